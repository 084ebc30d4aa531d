// dlg-loadgen: DlgCore's LLMClient alone against an OpenAI-compatible server, for make bench.

import ArgumentParser
import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct DlgLoadgen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg-loadgen",
        abstract: "Send chat requests through DlgCore's LLMClient and measure its CPU per request (make bench).",
        discussion: """
            Reads nothing from stdin. Sends --requests kb_responder chat calls (a JSON-schema reply, no tools, \
            no response cache) to the config's kb_responder endpoint, --concurrency at a time, and prints one \
            JSON line on stdout: requests, errors, wall_seconds, cpu_seconds (this process, user + system) \
            and requests_per_cpu_second. With --broker every request first takes a lease from a limits \
            broker in this process over its Unix socket, as a run's stages take them from dlg-run.
            """)

    @Option(help: "The config file (the kb_responder agent's endpoint is used).")
    var config: String

    @Option(help: "Chat requests to send.")
    var requests = 10_000

    @Option(help: "Requests in flight at once.")
    var concurrency = 64

    @Flag(help: "Take each request's lease from a limits broker over a Unix socket (both sides in this process).")
    var broker = false

    @Option(help: "max_in_flight for the endpoint (0: none). With --broker, an endpoint with a limit asks the broker for every request; one without is granted in the client.")
    var maxInFlight = 0

    func validate() throws {
        guard requests >= 1 else { throw ValidationError("'--requests' must be at least 1") }
        guard concurrency >= 1 else { throw ValidationError("'--concurrency' must be at least 1") }
        guard maxInFlight >= 0 else { throw ValidationError("'--max-in-flight' must not be negative") }
    }

    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }

    func run() async throws {
        var settings = try Settings.load(path: config)
        settings.llmLayer.cache.enabled = false
        var host: LimitBroker?
        if broker {
            let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("dlg-loadgen-\(getpid()).sock")
            host = try LimitBroker(path: path, layer: settings.llmLayer, logsDir: nil)
            settings.llmLayer.limitsSocket = path
        }
        defer { host?.stop() }
        let client = LLMClient(logsDir: nil, layer: settings.llmLayer)
        var configured = settings.agent(.kbResponder)
        for i in configured.endpoints.indices where maxInFlight > 0 { configured.endpoints[i].maxInFlight = maxInFlight }
        let agent = configured
        let format = ResponseFormat.json(name: "kb_responder", schema: .obj(["type": "object"]))
        let counter = Tally()
        let cpu0 = Self.cpuSeconds()
        let wall0 = Date()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask { [requests] in
                    while let i = counter.next(below: requests) {
                        let messages: [ChatMessage] = [
                            .obj(["role": "system", "content": "You answer from the knowledge base. agent: kb_responder"]),
                            .obj(["role": "user", "content": .string("Question \(i): how do I oil a bicycle chain?")]),
                        ]
                        do { _ = try await client.chat(agent: agent, messages: messages, format: format) } catch { counter.failed() }
                    }
                }
            }
        }
        let wall = Date().timeIntervalSince(wall0)
        let cpu = Self.cpuSeconds() - cpu0
        let out: JSON = .obj([
            "requests": .int(requests), "errors": .int(counter.errors), "concurrency": .int(concurrency),
            "broker": .bool(broker), "max_in_flight": .int(maxInFlight), "wall_seconds": .double(wall), "cpu_seconds": .double(cpu),
            "requests_per_cpu_second": .double(Double(requests) / max(cpu, 1e-9)),
        ])
        print(out.serialized())
    }
}

/// Hands out request numbers and counts failures across the workers.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    private var e = 0
    func next(below limit: Int) -> Int? { lock.withLock { guard n < limit else { return nil }; defer { n += 1 }; return n } }
    func failed() { lock.withLock { e += 1 } }
    var errors: Int { lock.withLock { e } }
}

/// main.swift cannot hold `@main`, and at top level a bare `DlgLoadgen.main()` resolves to
/// ParsableCommand's synchronous entry point (as in dlg-mock).
func runAsyncRoot<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    await command.main(nil)
}

await runAsyncRoot(DlgLoadgen.self)
