// Routing and reply construction, independent of the network layer.

import Foundation

/// A finished HTTP reply.
struct MockResponse {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8]
    /// A chat reply: once written, the request no longer counts as in flight.
    var endsChat = false
    /// When above 0, `body` is ignored and a 200 of this many bytes is streamed (`hugeReplyBytes`).
    var streamedBytes = 0
}

/// What the network layer should do with a request.
enum MockOutcome {
    /// Send `response` after `delayNanoseconds`.
    case respond(MockResponse, delayNanoseconds: Int64)
    /// Never answer (the `timeout` fault).
    case hang
    /// Close the connection without answering, after `delayNanoseconds`.
    case drop(delayNanoseconds: Int64)
    /// After `delayNanoseconds`, send `response`'s head (its full `Content-Length`) and the first half of
    /// its body, then reset the connection (`reset`) or close it.
    case partial(MockResponse, delayNanoseconds: Int64, reset: Bool)
}

/// Answers requests; shared by all event loops, so mutable state sits behind a lock.
final class MockEngine: @unchecked Sendable {
    let options: MockOptions
    let lock = NSLock()
    var counters = MockStats()
    var random: SplitMix64
    /// Chat requests received and not yet answered.
    private var inFlight = 0
    /// Arrival of every chat request, in ms since the server started (with `requestLog`).
    private var arrivals: [Double] = []
    /// Error replies seen so far, for `echoKeyRate`.
    private var echoDraws = 0
    private let started = DispatchTime.now().uptimeNanoseconds
    /// Files and batches (`/v1/files`, `/v1/batches`), behind `lock`.
    var batchStore = MockBatchStore()
    /// The qa_generator's questions so far, for `nearDuplicateRate`, behind `lock`.
    var givenQuestions = GivenQuestions()

    init(options: MockOptions) {
        self.options = options
        random = SplitMix64(seed: options.seed)
        counters = Self.zeroCounters(options)
    }

    /// Every counter zero; `near_duplicate_variants` served when the options make variants.
    static func zeroCounters(_ options: MockOptions) -> MockStats {
        var counters = MockStats()
        counters.reportsNearDuplicates = options.nearDuplicateRate > 0
        return counters
    }

    var stats: MockStats {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }

    func resetStats() {
        lock.lock()
        counters = Self.zeroCounters(options)
        arrivals.removeAll()
        lock.unlock()
    }

    func count(_ update: (inout MockStats) -> Void) {
        lock.lock()
        update(&counters)
        lock.unlock()
    }

    /// Routes one request. `path` may carry a query string.
    func handle(method: String, path: Substring, body: UnsafeRawBufferPointer, authorization: String? = nil) -> MockOutcome {
        if options.hugeReplyBytes > 0, method == "POST", path.hasPrefix("/v1/chat/completions") {
            count { $0.requests += 1; $0.chatCompletions += 1 }
            return .respond(MockResponse(status: 200, body: [], streamedBytes: options.hugeReplyBytes), delayNanoseconds: 0)
        }
        let outcome = route(method: method, path: path, body: body, authorization: authorization)
        guard options.echoKeyRate > 0, case .respond(let response, let delay) = outcome, response.status >= 400,
              let authorization, authorization.hasPrefix("Bearer ") else { return outcome }
        // Spread evenly at the rate, in request order: the n-th error body echoes when the rate's running
        // total passes a whole number.
        let echo: Bool = lock.withLock {
            echoDraws += 1
            return (Double(echoDraws) * options.echoKeyRate).rounded(.down) > (Double(echoDraws - 1) * options.echoKeyRate).rounded(.down)
        }
        guard echo else { return outcome }
        let key = String(authorization.dropFirst(7))
        var echoed = errorResponse(response.status, "Incorrect API key provided: \(key). You can find your API key at https://example.invalid/keys (echoed by dlg-mock).",
                                   type: "invalid_request_error", code: "invalid_api_key")
        echoed.headers = response.headers
        echoed.endsChat = response.endsChat
        return .respond(echoed, delayNanoseconds: delay)
    }

    func route(method: String, path: Substring, body: UnsafeRawBufferPointer, authorization: String?) -> MockOutcome {
        var route = path
        if let query = route.firstIndex(of: "?") { route = route[..<query] }
        if route.count > 1, route.hasSuffix("/") { route = route.dropLast() }
        if let key = options.apiKey, route.hasPrefix("/v1/"), authorization != "Bearer \(key)" {
            count { $0.requests += 1 }
            return .respond(errorResponse(401, "invalid or missing api key", type: "invalid_request_error"), delayNanoseconds: 0)
        }
        if let outcome = batchRoute(method: method, route: route, body: body) { return outcome }
        switch (route, method) {
        case ("/health", "GET"):
            return .respond(MockResponse(status: 200, body: []), delayNanoseconds: 0)
        case ("/v1/chat/completions", "POST"):
            return trackedChatCompletion(body)
        case ("/v1/embeddings", "POST"):
            return embeddings(body)
        case ("/v1/models", "GET"):
            count { $0.requests += 1; $0.models += 1 }
            var writer = JSONWriter(capacity: 128)
            writer.value(.object([
                ("object", .string("list")),
                ("data", .array([.object([("id", .string(options.model)), ("object", .string("model")), ("owned_by", .string("dlg-mock"))])])),
            ]))
            return .respond(MockResponse(status: 200, body: writer.bytes), delayNanoseconds: 0)
        case ("/stats", "GET"):
            return .respond(MockResponse(status: 200, body: Array(stats.json.utf8)), delayNanoseconds: 0)
        case ("/stats/requests", "GET"):
            let times: [Double] = lock.withLock { arrivals }
            var writer = JSONWriter(capacity: 32 + times.count * 10)
            writer.value(.object([("arrivals_ms", .array(times.map { .number(($0 * 10).rounded() / 10) }))]))
            return .respond(MockResponse(status: 200, body: writer.bytes), delayNanoseconds: 0)
        case ("/stats/reset", "POST"):
            resetStats()
            return .respond(MockResponse(status: 200, body: Array(stats.json.utf8)), delayNanoseconds: 0)
        case ("/v1/chat/completions", _), ("/v1/embeddings", _), ("/v1/models", _), ("/stats", _), ("/stats/reset", _):
            count { $0.requests += 1; $0.notFound += 1 }
            return .respond(errorResponse(405, "method \(method) is not allowed on \(route)", type: "invalid_request_error"), delayNanoseconds: 0)
        default:
            count { $0.requests += 1; $0.notFound += 1 }
            return .respond(errorResponse(404, "unknown path \(route)", type: "invalid_request_error", code: "not_found"), delayNanoseconds: 0)
        }
    }

    /// A chat request counted in flight from its arrival until its reply is written (`chatEnded`); above
    /// `maxInFlight` it is refused with a 429.
    func trackedChatCompletion(_ body: UnsafeRawBufferPointer) -> MockOutcome {
        let refused: Bool = lock.withLock {
            if options.requestLog { arrivals.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6) }
            if options.maxInFlight > 0 && inFlight >= options.maxInFlight {
                counters.requests += 1
                counters.chatCompletions += 1
                counters.concurrencyRefused += 1
                return true
            }
            inFlight += 1
            counters.inFlightPeak = max(counters.inFlightPeak, inFlight)
            return false
        }
        if refused {
            return .respond(errorResponse(429, "Too many requests in flight (more than \(options.maxInFlight); dlg-mock --max-in-flight).",
                                          type: "requests", code: "rate_limit_exceeded"), delayNanoseconds: 0)
        }
        switch chatCompletion(body) {
        case .respond(var response, let delay):
            response.endsChat = true
            return .respond(response, delayNanoseconds: delay)
        case let other:
            chatEnded()
            return other
        }
    }

    /// A chat reply was written (or will never be).
    func chatEnded() {
        lock.withLock { inFlight -= 1 }
    }

    // MARK: Errors

    func badRequest(_ error: Error) -> MockResponse {
        switch error {
        case let bad as BadRequest:
            return errorResponse(400, bad.message, type: "invalid_request_error", param: bad.param)
        case let parse as JSONParseError:
            return errorResponse(400, "could not parse the request body as JSON: \(parse)", type: "invalid_request_error")
        default:
            return errorResponse(400, "invalid request", type: "invalid_request_error")
        }
    }

    func errorResponse(_ status: Int, _ message: String, type: String, param: String? = nil, code: String? = nil) -> MockResponse {
        var w = JSONWriter(capacity: 160)
        w.value(.object([("error", .object([
            ("message", .string(message)),
            ("type", .string(type)),
            ("param", param.map(JSONValue.string) ?? .null),
            ("code", code.map(JSONValue.string) ?? .null),
        ]))]))
        return MockResponse(status: status, body: w.bytes)
    }
}
