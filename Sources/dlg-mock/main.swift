// dlg-mock: the project's mock OpenAI-compatible server, for tests and benchmarks.

import ArgumentParser
import DlgMock
import Foundation

extension LatencyDistribution: ExpressibleByArgument {}

struct DlgMockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg-mock",
        abstract: "Serve a mock OpenAI-compatible API (chat completions, embeddings, models, files and batches).",
        discussion: """
            Reads nothing from stdin. Prints exactly one line to stdout once it listens, \
            `dlg-mock listening on http://HOST:PORT/v1`, then logs nothing per request. \
            Replies are deterministic in --seed and the request's messages; injected faults \
            are drawn from a generator seeded by --seed, in request order. `GET /stats` \
            serves request counters (`/stats/requests` the arrival times with --request-log) and `POST /stats/reset` zeroes them. SIGINT or SIGTERM \
            stops the server.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port; 0 picks a free one (read it from the first stdout line).")
    var port = 0

    @Option(help: "Seed of the reply content hash and of the fault generator.")
    var seed: UInt64 = 1

    @Option(help: "Model id listed by /v1/models.")
    var model = "mock-model"

    @Option(name: .customLong("latency-ms"), help: "Latency added to each chat and embeddings request, in milliseconds (the mean for 'exponential').")
    var latencyMs: Double = 0

    @Option(name: .customLong("latency-jitter-ms"), help: "Half-width of the 'uniform' latency distribution, in milliseconds; implies '--latency-distribution uniform'.")
    var latencyJitterMs: Double = 0

    @Option(help: "How latency is drawn: fixed, uniform (latency ± jitter) or exponential (mean = latency). Default fixed, or uniform when a jitter is given.")
    var latencyDistribution: LatencyDistribution?

    @Option(help: "Fraction (0-1) of qa_generator replies that use one of three generic questions, chosen by the request's hash.")
    var duplicateRate: Double = 0

    @Option(help: "Fraction (0-1) of qa_generator replies, chosen by the request's hash, that repeat a question given before (same language) reworded: a word or two added, two clauses swapped, the punctuation or the case changed (word-set Jaccard at least 0.8 for questions of 8 words or more). /stats counts them in near_duplicate_variants.")
    var nearDuplicateRate: Double = 0

    @Flag(inversion: .prefixedNo, help: "Whether the kb_responder first asks for a vector_db_search tool call when the request offers that tool.")
    var toolCalls = true

    @Option(help: "Grow kb_responder replies to about this many bytes with more evidence items (0: the usual short replies).")
    var replyBytes = 0

    @Flag(inversion: .prefixedNo, help: "Whether response_format type json_schema is accepted (otherwise HTTP 400).")
    var jsonSchemaSupport = true

    @Flag(inversion: .prefixedNo, help: "Whether response_format type json_object is accepted (otherwise HTTP 400).")
    var jsonObjectSupport = true

    @Flag(inversion: .prefixedNo, help: "Whether the seed parameter is accepted (otherwise HTTP 400, like a provider that rejects fields it does not know).")
    var seedSupport = true

    @Flag(help: "Send reply content as a list of text parts (split in two) instead of a string, as some gateways do.")
    var contentParts = false

    @Flag(help: "Send tool-call arguments as a JSON object instead of a JSON string.")
    var objectArguments = false

    @Option(help: "Number of event loop threads.")
    var threads = 1

    @Option(help: "Seconds sent in the Retry-After header of injected 429 replies.")
    var retryAfter = 1

    @Option(help: "Answer 429 (no Retry-After) to a chat request that arrives while this many are in flight, as a server with a hard concurrency cap; 0: no cap. /stats counts in_flight_peak and concurrency_refused.")
    var maxInFlight = 0

    @Flag(help: "Keep the arrival time of every chat request for GET /stats/requests ({\"arrivals_ms\": [...]}, ms since start).")
    var requestLog = false

    @Option(name: .customLong("fault-429"), help: "Rate (0-1) of requests answered HTTP 429 with a Retry-After header.")
    var fault429: Double = 0

    @Option(name: .customLong("fault-500"), help: "Rate (0-1) of requests answered HTTP 500.")
    var fault500: Double = 0

    @Option(name: .customLong("fault-503"), help: "Rate (0-1) of requests answered HTTP 503 (an overloaded server).")
    var fault503: Double = 0

    @Option(help: "Rate (0-1) of replies reset (TCP RST) after their headers and half their body.")
    var faultResetBody: Double = 0

    @Option(help: "Rate (0-1) of replies whose connection closes after half the body its Content-Length announced.")
    var faultShortBody: Double = 0

    @Option(help: "Rate (0-1) of requests never answered (held open until the client gives up).")
    var faultTimeout: Double = 0

    @Option(help: "Rate (0-1) of requests whose connection is closed without an answer.")
    var faultDrop: Double = 0

    @Option(help: "Rate (0-1) of chat replies whose content is not JSON (chatty prefix, cut-off object).")
    var faultMalformed: Double = 0

    @Option(help: "Rate (0-1) of chat replies whose JSON content is cut in the middle.")
    var faultTruncated: Double = 0

    @Option(help: "Rate (0-1) of chat replies missing their main field (user_message, assistant_message, score).")
    var faultMissingFields: Double = 0

    @Option(help: "Rate (0-1) of chat replies with fields of the wrong type (e.g. \"score\":\"high\").")
    var faultWrongTypes: Double = 0

    @Option(help: "Rate (0-1) of chat replies with an empty user_message or assistant_message (judges: empty content).")
    var faultEmpty: Double = 0

    @Option(help: "Rate (0-1) of kb_responder replies that repeat the user's question verbatim.")
    var faultEcho: Double = 0

    @Option(help: "Rate (0-1) of chat replies whose answer text is a fixed German sentence.")
    var faultWrongLanguage: Double = 0

    @Option(name: .customLong("fault-echo-key"), help: "Rate (0-1) of error replies (HTTP 4xx and 5xx: --fault-500, --fault-429, --api-key's 401, ...) whose message repeats the request's API key, as some providers echo the key they refused.")
    var faultEchoKey: Double = 0

    @Option(name: .customLong("huge-reply-bytes"), help: "Answer every chat completion with a 200 of this many bytes (streamed from one shared piece: the mock stays small), as a server whose reply never ends; 0: off.")
    var hugeReplyBytes = 0

    @Option(help: "Milliseconds a batch (/v1/batches) stays in_progress before its lines are answered.")
    var batchDelayMs: Double = 0

    @Option(help: "Rate (0-1) of batch lines answered 500 in the batch's error file (drawn per custom_id and submission: a retry can succeed).")
    var batchErrorRate: Double = 0

    @Option(help: "Rate (0-1) of batch lines left unanswered as expired (batch_expired in the error file; the batch ends expired).")
    var batchExpireRate: Double = 0

    @Option(help: "The first this many batches created fail as a whole (status failed).")
    var batchFailures = 0

    @Option(help: "Require 'Authorization: Bearer KEY' on /v1/* (401 otherwise), as 'vllm serve --api-key'; /health stays open. Also read from VLLM_API_KEY when not given.")
    var apiKey: String?

    private var rates: [(flag: String, rate: Double)] {
        [("--duplicate-rate", duplicateRate), ("--near-duplicate-rate", nearDuplicateRate), ("--fault-429", fault429), ("--fault-500", fault500),
         ("--fault-timeout", faultTimeout), ("--fault-drop", faultDrop), ("--fault-malformed", faultMalformed),
         ("--fault-truncated", faultTruncated), ("--fault-missing-fields", faultMissingFields),
         ("--fault-wrong-types", faultWrongTypes), ("--fault-empty", faultEmpty), ("--fault-echo", faultEcho),
         ("--fault-wrong-language", faultWrongLanguage), ("--fault-503", fault503),
         ("--fault-reset-body", faultResetBody), ("--fault-short-body", faultShortBody), ("--fault-echo-key", faultEchoKey),
         ("--batch-error-rate", batchErrorRate), ("--batch-expire-rate", batchExpireRate)]
    }

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("'--port' must be in 0...65535, got \(port)") }
        guard maxInFlight >= 0 else { throw ValidationError("'--max-in-flight' must not be negative, got \(maxInFlight)") }
        guard hugeReplyBytes >= 0 else { throw ValidationError("'--huge-reply-bytes' must not be negative, got \(hugeReplyBytes)") }
        guard batchDelayMs >= 0, batchFailures >= 0 else { throw ValidationError("'--batch-delay-ms' and '--batch-failures' must not be negative") }
        guard threads >= 1 else { throw ValidationError("'--threads' must be at least 1, got \(threads)") }
        guard latencyMs >= 0 else { throw ValidationError("'--latency-ms' must not be negative") }
        guard latencyJitterMs >= 0 else { throw ValidationError("'--latency-jitter-ms' must not be negative") }
        guard retryAfter >= 0 else { throw ValidationError("'--retry-after' must not be negative") }
        if latencyJitterMs > 0, let distribution = latencyDistribution, distribution != .uniform {
            throw ValidationError("'--latency-jitter-ms' only applies to '--latency-distribution uniform', not '\(distribution.rawValue)'")
        }
        for (flag, rate) in rates where !(0...1).contains(rate) {
            throw ValidationError("'\(flag)' must be a rate in 0...1, got \(rate)")
        }
        let transport = fault429 + fault500 + faultTimeout + faultDrop + faultMalformed + fault503 + faultResetBody + faultShortBody
        if transport > 1 + 1e-9 {
            throw ValidationError("'--fault-429', '--fault-500', '--fault-503', '--fault-timeout', '--fault-drop', '--fault-reset-body', '--fault-short-body' and '--fault-malformed' add up to \(transport); the sum must not exceed 1")
        }
    }

    var options: MockOptions {
        var options = MockOptions()
        options.host = host
        options.port = port
        options.seed = seed
        options.model = model
        options.latencyMs = latencyMs
        options.latencyJitterMs = latencyJitterMs
        options.latencyDistribution = latencyDistribution ?? (latencyJitterMs > 0 ? .uniform : .fixed)
        options.duplicateRate = duplicateRate
        options.nearDuplicateRate = nearDuplicateRate
        options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["VLLM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        options.toolCalls = toolCalls
        options.replyBytes = replyBytes
        options.jsonSchemaSupport = jsonSchemaSupport
        options.seedSupport = seedSupport
        options.contentParts = contentParts
        options.objectArguments = objectArguments
        options.jsonObjectSupport = jsonObjectSupport
        options.threads = threads
        options.maxInFlight = maxInFlight
        options.requestLog = requestLog
        options.retryAfterSeconds = retryAfter
        options.faults.rateLimited = fault429
        options.faults.serverError = fault500
        options.faults.timeout = faultTimeout
        options.faults.drop = faultDrop
        options.faults.malformed = faultMalformed
        options.faults.truncated = faultTruncated
        options.faults.missingFields = faultMissingFields
        options.faults.wrongTypes = faultWrongTypes
        options.faults.empty = faultEmpty
        options.faults.echo = faultEcho
        options.faults.wrongLanguage = faultWrongLanguage
        options.faults.serviceUnavailable = fault503
        options.faults.resetInBody = faultResetBody
        options.faults.shortBody = faultShortBody
        options.echoKeyRate = faultEchoKey
        options.hugeReplyBytes = hugeReplyBytes
        options.batchDelayMs = batchDelayMs
        options.batchErrorRate = batchErrorRate
        options.batchExpireRate = batchExpireRate
        options.batchFailures = batchFailures
        return options
    }

    func run() async throws {
        let termination = TerminationSignal()
        let server = MockServer(options: options)
        let port: Int
        do {
            port = try await server.start()
        } catch {
            FileHandle.standardError.write(Data("dlg-mock: error: cannot listen on \(host):\(self.port): \(error)\n".utf8))
            throw ExitCode(69)
        }
        // One unbuffered write, so a test reading the port never waits on a buffer.
        FileHandle.standardOutput.write(Data("dlg-mock listening on http://\(host):\(port)/v1\n".utf8))
        await termination.wait()
        await server.stop()
    }
}

/// Resumes once SIGINT or SIGTERM arrives (the signals' default actions are disabled).
final class TerminationSignal: @unchecked Sendable {
    private let queue = DispatchQueue(label: "dlg-mock.signals")
    private var sources: [DispatchSourceSignal] = []
    private var continuation: CheckedContinuation<Void, Never>?
    private var fired = false

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in
                fired = true
                continuation?.resume()
                continuation = nil
            }
            source.resume()
            sources.append(source)
        }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            queue.async {
                if self.fired { continuation.resume() } else { self.continuation = continuation }
            }
        }
    }
}

/// Runs an async root command; main.swift cannot hold `@main`, and at top level a bare
/// `DlgMockCommand.main()` resolves to ParsableCommand's synchronous entry point.
func runAsyncRoot<Command: AsyncParsableCommand>(_ command: Command.Type) async {
    await command.main(nil)
}

await runAsyncRoot(DlgMockCommand.self)
