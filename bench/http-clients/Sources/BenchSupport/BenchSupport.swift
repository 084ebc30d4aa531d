// Shared workload and measurement for the three client benchmarks: the same request body, the same
// bounded task group, the same getrusage accounting. Each executable only supplies "send one request".
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct Options: Sendable {
    public var baseURL = "http://127.0.0.1:8080/v1"
    public var requests = 20_000
    public var concurrency = 256
    public var timeoutSeconds = 60.0

    public var chatURL: String { baseURL + "/chat/completions" }

    /// `--url BASE --requests N --concurrency C --timeout S`
    public static func parse(_ args: [String] = Array(CommandLine.arguments.dropFirst())) -> Options {
        var o = Options()
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fail("missing value for \(args[i - 1])") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--url": o.baseURL = value()
            case "--requests": o.requests = Int(value()) ?? o.requests
            case "--concurrency": o.concurrency = Int(value()) ?? o.concurrency
            case "--timeout": o.timeoutSeconds = Double(value()) ?? o.timeoutSeconds
            default: fail("unknown argument \(args[i])")
            }
            i += 1
        }
        return o
    }
}

public func fail(_ message: String) -> Never {
    printError("error: \(message)")
    exit(2)
}

/// One line to stderr (the `stderr` global is not concurrency-safe in Swift 6 mode).
public func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Request headers every client sends (what DlgCore's LLMClient sends, with a dummy key).
public let requestHeaders: [(String, String)] = [
    ("Content-Type", "application/json"),
    ("Accept", "application/json"),
    ("Authorization", "Bearer sk-bench-0000000000000000"),
]

/// A realistic qa_generator chat request of about 1.5 KB: a system and a user message.
public let requestBody: [UInt8] = {
    let system = """
        agent: qa_generator\\nYou write one realistic customer question for a support assistant, grounded in \
        the knowledge snippets you are given. Reply with a JSON object with the keys user_message, intent, \
        difficulty, grounding_facts (a list of objects with fact and source_descriptor), coverage_target and \
        notes_for_responder. Do not copy sentences verbatim from the snippets; paraphrase as a customer would. \
        Vary the intent across billing, troubleshooting, how-to and policy questions.
        """
    let user = """
        topic_id: \\"billing-refunds\\"\\npersona: a small-business owner who is in a hurry\\n\\nKnowledge snippets:\\n\
        [1] {\\"title\\": \\"Refund policy\\", \\"source\\": \\"kb/billing/refunds.md\\", \\"text\\": \\"Annual plans can be \
        refunded in full within 30 days of purchase. After 30 days, refunds are prorated to the unused months and \
        issued to the original payment method within 5-10 business days.\\"}\\n[2] {\\"title\\": \\"Invoices\\", \
        \\"source\\": \\"kb/billing/invoices.md\\", \\"text\\": \\"Invoices are emailed to the billing contact on the \
        first day of each cycle. Administrators can download past invoices as PDF from Settings > Billing.\\"}\\n\
        [3] {\\"title\\": \\"Payment methods\\", \\"source\\": \\"kb/billing/payment-methods.md\\", \\"text\\": \\"Cards \
        and SEPA debit are accepted; a failed payment is retried three times over seven days before the \
        workspace is downgraded.\\"}\\n\
        Write the question now.
        """
    let json = """
        {"model":"mock-model","temperature":0.7,"max_tokens":512,"response_format":{"type":"json_object"},\
        "messages":[{"role":"system","content":"\(system)"},{"role":"user","content":"\(user)"}]}
        """
    return Array(json.utf8)
}()

#if canImport(Glibc)
private let RUSAGE_SELF_WHO = __rusage_who_t(RUSAGE_SELF.rawValue)
#else
private let RUSAGE_SELF_WHO = RUSAGE_SELF
#endif

public func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF_WHO, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6
        + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

public func maxRSSMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF_WHO, &u)
    return Double(u.ru_maxrss) / 1024  // KiB on Linux
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// What one request came to: the body size on HTTP 200, or an error message.
public enum RequestResult: Sendable {
    case ok(bytes: Int)
    case error(String)
}

/// A reply counts as good when it is HTTP 200 with a non-empty JSON object body.
public func check(status: Int, body: some Collection<UInt8>) -> RequestResult {
    guard status == 200 else { return .error("HTTP \(status)") }
    guard body.first == UInt8(ascii: "{"), body.count > 2 else { return .error("unexpected body (\(body.count) bytes)") }
    return .ok(bytes: body.count)
}

/// Sends `options.requests` requests, at most `options.concurrency` in flight (a bounded task group), and
/// prints one `RESULT` line. CPU is this process's user+sys time from just before the first request to
/// just after the last reply; max RSS is the process's peak.
public func runBenchmark(client: String, options: Options, send: @escaping @Sendable () async -> RequestResult) async {
    let cpu0 = cpuSeconds()
    let t0 = monotonicSeconds()
    var errors = 0
    var bytes = 0
    var firstErrors: [String] = []
    await withTaskGroup(of: RequestResult.self) { group in
        var started = 0
        while started < min(options.concurrency, options.requests) {
            group.addTask { await send() }
            started += 1
        }
        while let result = await group.next() {
            switch result {
            case .ok(let n): bytes += n
            case .error(let message):
                errors += 1
                if firstErrors.count < 3 { firstErrors.append(message) }
            }
            if started < options.requests {
                group.addTask { await send() }
                started += 1
            }
        }
    }
    let wall = monotonicSeconds() - t0
    let cpu = cpuSeconds() - cpu0
    for message in firstErrors { printError("\(client): error: \(message)") }
    let n = options.requests
    let ok = n - errors
    print("RESULT client=\(client) requests=\(n) concurrency=\(options.concurrency)"
        + " wall_s=\(fmt(wall, 3)) req_per_s=\(fmt(Double(n) / wall, 0))"
        + " cpu_s=\(fmt(cpu, 3)) cpu_us_per_req=\(fmt(cpu / Double(n) * 1e6, 1))"
        + " max_rss_mib=\(fmt(maxRSSMiB(), 1)) errors=\(errors)"
        + " avg_body_bytes=\(ok > 0 ? bytes / ok : 0) request_bytes=\(requestBody.count)")
}

public func fmt(_ x: Double, _ digits: Int) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    if digits == 0 { return String(Int(r)) }
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        if have < digits { s += String(repeating: "0", count: digits - have) }
    }
    return s
}
