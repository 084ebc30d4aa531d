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
    private let lock = NSLock()
    private var counters = MockStats()
    private var random: SplitMix64
    /// Chat requests received and not yet answered.
    private var inFlight = 0
    /// Arrival of every chat request, in ms since the server started (with `requestLog`).
    private var arrivals: [Double] = []
    /// Error replies seen so far, for `echoKeyRate`.
    private var echoDraws = 0
    private let started = DispatchTime.now().uptimeNanoseconds

    init(options: MockOptions) {
        self.options = options
        random = SplitMix64(seed: options.seed)
    }

    var stats: MockStats {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }

    func resetStats() {
        lock.lock()
        counters = MockStats()
        arrivals.removeAll()
        lock.unlock()
    }

    private func count(_ update: (inout MockStats) -> Void) {
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

    private func route(method: String, path: Substring, body: UnsafeRawBufferPointer, authorization: String?) -> MockOutcome {
        var route = path
        if let query = route.firstIndex(of: "?") { route = route[..<query] }
        if route.count > 1, route.hasSuffix("/") { route = route.dropLast() }
        if let key = options.apiKey, route.hasPrefix("/v1/"), authorization != "Bearer \(key)" {
            count { $0.requests += 1 }
            return .respond(errorResponse(401, "invalid or missing api key", type: "invalid_request_error"), delayNanoseconds: 0)
        }
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
    private func trackedChatCompletion(_ body: UnsafeRawBufferPointer) -> MockOutcome {
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

    // MARK: Faults and latency

    /// A transport fault to inject (or nil), plus content faults and latency, drawn in request order.
    private struct Draws {
        var transport: MockFault?
        var content: Set<MockFault> = []
        var delayNanoseconds: Int64 = 0
    }

    private func drawFaults(chat: Bool) -> Draws {
        let faults = options.faults
        var draws = Draws()
        lock.lock()
        defer { lock.unlock() }
        if faults.transportTotal > 0 {
            let u = random.nextUnit()
            var edge = 0.0
            for (kind, rate) in [(MockFault.rateLimited, faults.rateLimited), (.serverError, faults.serverError),
                                 (.timeout, faults.timeout), (.drop, faults.drop), (.malformed, faults.malformed),
                                 (.serviceUnavailable, faults.serviceUnavailable), (.resetInBody, faults.resetInBody),
                                 (.shortBody, faults.shortBody)] where rate > 0 {
                edge += rate
                if u < edge { draws.transport = kind; break }
            }
        }
        if chat, draws.transport == nil, faults.truncated > 0 || faults.missingFields > 0 || faults.wrongTypes > 0
            || faults.empty > 0 || faults.echo > 0 || faults.wrongLanguage > 0 {
            for (kind, rate) in [(MockFault.truncated, faults.truncated), (.missingFields, faults.missingFields),
                                 (.wrongTypes, faults.wrongTypes), (.empty, faults.empty), (.echo, faults.echo),
                                 (.wrongLanguage, faults.wrongLanguage)] where rate > 0 {
                if random.nextUnit() < rate { draws.content.insert(kind) }
            }
        }
        let base = options.latencyMs
        var ms: Double
        switch options.latencyDistribution {
        case .fixed:
            ms = base
        case .uniform:
            ms = options.latencyJitterMs > 0 ? base + (random.nextUnit() * 2 - 1) * options.latencyJitterMs : base
        case .exponential:
            ms = base > 0 ? -log(1 - random.nextUnit()) * base : 0
        }
        ms = max(0, ms)
        draws.delayNanoseconds = Int64(ms * 1_000_000)
        if let transport = draws.transport { counters.faults[transport, default: 0] += 1 }
        return draws
    }

    /// The reply for an injected transport fault; nil when the fault only alters content.
    private func transportOutcome(_ fault: MockFault?, delay: Int64) -> MockOutcome? {
        switch fault {
        case .rateLimited?:
            var response = errorResponse(
                429, "Rate limit reached for \(options.model) (injected by dlg-mock). Please try again in \(options.retryAfterSeconds)s.",
                type: "requests", code: "rate_limit_exceeded")
            response.headers.append(("retry-after", String(options.retryAfterSeconds)))
            return .respond(response, delayNanoseconds: delay)
        case .serverError?:
            return .respond(errorResponse(500, "The server had an error while processing your request (injected by dlg-mock).", type: "server_error"), delayNanoseconds: delay)
        case .serviceUnavailable?:
            return .respond(errorResponse(503, "The server is overloaded or not ready yet (injected by dlg-mock).", type: "server_error"), delayNanoseconds: delay)
        case .timeout?:
            return .hang
        case .drop?:
            return .drop(delayNanoseconds: delay)
        default:
            return nil
        }
    }

    /// A finished reply sent only in part, for the `resetInBody` and `shortBody` faults.
    private func sentInPart(_ outcome: MockOutcome, _ fault: MockFault?) -> MockOutcome {
        guard fault == .resetInBody || fault == .shortBody, case .respond(let response, let delay) = outcome else { return outcome }
        return .partial(response, delayNanoseconds: delay, reset: fault == .resetInBody)
    }

    // MARK: Chat completions

    private func chatCompletion(_ body: UnsafeRawBufferPointer) -> MockOutcome {
        var request: ChatRequest
        do {
            request = try ChatRequest(JSONParser.parse(body, keeping: ChatRequest.keep))
            request.bodyBytes = body.count
        } catch {
            count { $0.requests += 1; $0.chatCompletions += 1; $0.badRequests += 1 }
            return .respond(badRequest(error), delayNanoseconds: 0)
        }
        let agent = request.agent
        var formatName = "none"
        var rejection: MockResponse?
        switch request.responseFormat {
        case .none:
            break
        case .jsonObject:
            formatName = "json_object"
            if !options.jsonObjectSupport {
                rejection = errorResponse(400, "response_format json_object is not supported", type: "invalid_request_error", param: "response_format")
            }
        case .jsonSchema:
            formatName = "json_schema"
            if !options.jsonSchemaSupport {
                rejection = errorResponse(400, "response_format json_schema is not supported", type: "invalid_request_error", param: "response_format")
            }
        }
        count {
            $0.requests += 1
            $0.chatCompletions += 1
            $0.agents[agent, default: 0] += 1
            $0.responseFormats[formatName, default: 0] += 1
            if rejection != nil { $0.unsupportedResponseFormat += 1 }
        }
        if rejection == nil, request.seed != nil, !options.seedSupport {
            rejection = errorResponse(400, "Unrecognized request argument supplied: seed", type: "invalid_request_error", param: "seed")
        }
        if let rejection { return .respond(rejection, delayNanoseconds: 0) }

        let draws = drawFaults(chat: true)
        if let outcome = transportOutcome(draws.transport, delay: draws.delayNanoseconds) { return outcome }

        let hash = request.contentHash(seed: options.seed)
        let draw = Draw(base: hash)
        var replies = AgentReplies(request: request, draw: draw, duplicateRate: options.duplicateRate, toolCalls: options.toolCalls)
        replies.replyBytes = options.replyBytes
        let reply = replies.reply(for: agent)
        if draws.transport == .malformed {
            // Chatty prose around a cut-off object: not JSON at all.
            var json: [UInt8] = Array("{\"user_message\": ".utf8)
            if case .content(let value) = reply { json = JSONWriter.serialize(value) }
            let cut = utf8Boundary(json, max(2, json.count * 2 / 5))
            let text = "Sure! Here is the answer: " + String(decoding: json[..<cut], as: UTF8.self)
            return sentInPart(respondChat(request, hash: hash, content: Array(text.utf8), toolCall: nil, delay: draws.delayNanoseconds), draws.transport)
        }
        switch reply {
        case .toolCall(let id, let name, let arguments):
            count { $0.toolCalls += 1 }
            return sentInPart(respondChat(request, hash: hash, content: nil, toolCall: (id, name, arguments), delay: draws.delayNanoseconds), draws.transport)
        case .content(let value):
            var applied: [MockFault] = []
            let text = applyContentFaults(draws.content, to: value, agent: agent, request: request, draw: draw, applied: &applied)
            if !applied.isEmpty {
                count { for fault in applied { $0.faults[fault, default: 0] += 1 } }
            }
            return sentInPart(respondChat(request, hash: hash, content: text, toolCall: nil, delay: draws.delayNanoseconds), draws.transport)
        }
    }

    /// Weak-model faults: alter the reply object, then serialize (and perhaps cut) it.
    private func applyContentFaults(_ faults: Set<MockFault>, to value: JSONValue, agent: MockAgent, request: ChatRequest,
                                    draw: Draw, applied: inout [MockFault]) -> [UInt8] {
        var value = value
        let mainField: String
        switch agent {
        case .qaGenerator: mainField = "user_message"
        case .kbResponder: mainField = "assistant_message"
        case .qaJudge, .conversationJudge: mainField = "score"
        case .unknown: mainField = "answer"
        }
        // The serialized JSON is valid UTF-8 (a cut moves back to a character boundary): bytes, no String.
        // Room for a grown reply at once (no copies while the array doubles).
        if faults.isEmpty { return JSONWriter.serialize(value, capacity: 1024 + options.replyBytes) }
        if faults.contains(.wrongLanguage) {
            applied.append(.wrongLanguage)
            switch agent {
            case .qaGenerator: value = value.setting("user_message", to: .string("Wie kann ich das in meinem Projekt am besten einrichten?"))
            case .kbResponder: value = value.setting("assistant_message", to: .string("Das hängt von Ihrer Konfiguration ab; bitte prüfen Sie die Dokumentation."))
            case .qaJudge, .conversationJudge: value = value.setting("notes", to: .string("Die Antwort ist im Großen und Ganzen korrekt."))
            case .unknown: value = value.setting("answer", to: .string("in Ordnung"))
            }
        }
        if faults.contains(.echo), agent == .kbResponder {
            applied.append(.echo)
            // The question itself: the text after the last "Question: " of the prompt, else the whole message.
            let prompt = request.messages.last(where: { $0.role == "user" && $0.content.contains("Question: ") })?.content
                ?? request.last("user") ?? ""
            let question = prompt.components(separatedBy: "Question: ").last ?? prompt
            value = value.setting("assistant_message", to: .string(question))
        }
        if faults.contains(.empty) {
            applied.append(.empty)
            switch agent {
            case .qaGenerator, .kbResponder: value = value.setting(mainField, to: .string(""))
            case .qaJudge, .conversationJudge, .unknown: return []
            }
        }
        if faults.contains(.wrongTypes) {
            applied.append(.wrongTypes)
            switch agent {
            case .qaGenerator:
                value = value.setting("user_message", to: .int(42)).setting("grounding_facts", to: .string("see above"))
            case .kbResponder:
                value = value.setting("assistant_message", to: .int(42)).setting("reasoning_trace", to: .string("n/a"))
            case .qaJudge, .conversationJudge:
                value = value.setting("score", to: .string("high")).setting("reasons", to: .string("none")).setting("question_ok", to: .string("yes"))
            case .unknown:
                value = value.setting("answer", to: .int(1))
            }
        }
        if faults.contains(.missingFields) {
            applied.append(.missingFields)
            value = value.removing(mainField)
        }
        var bytes = JSONWriter.serialize(value)
        if faults.contains(.truncated), bytes.count > 2 {
            applied.append(.truncated)
            let cut = utf8Boundary(bytes, max(1, bytes.count * (30 + draw.index(50, 40)) / 100))
            bytes.removeSubrange(cut...)
        }
        return bytes
    }

    /// `index` moved back so it does not split a UTF-8 sequence.
    private func utf8Boundary(_ bytes: [UInt8], _ index: Int) -> Int {
        var i = min(index, bytes.count)
        while i > 0, i < bytes.count, bytes[i] & 0xC0 == 0x80 { i -= 1 }
        return i
    }

    private func respondChat(_ request: ChatRequest, hash: UInt64, content: [UInt8]?,
                             toolCall: (id: String, name: String, arguments: String)?, delay: Int64) -> MockOutcome {
        let contentBytes = content?.count ?? 0
        let promptTokens = max(1, request.bodyBytes / 4)
        let completionTokens = max(1, (toolCall.map { $0.arguments.utf8.count + $0.name.utf8.count } ?? contentBytes) / 4)
        var w = JSONWriter(capacity: contentBytes + 400)
        w.raw("{\"id\":\"chatcmpl-")
        w.raw(hex(hash))
        w.raw("\",\"object\":\"chat.completion\",\"created\":")
        w.int(Int(Date().timeIntervalSince1970))
        w.raw(",\"model\":")
        w.string(request.model ?? options.model)
        w.raw(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":")
        if let bytes = content, options.contentParts {
            // Two parts, split at a character boundary: the client has to join them.
            let content = String(decoding: bytes, as: UTF8.self)
            let cut = content.index(content.startIndex, offsetBy: content.count / 2)
            w.raw("[{\"type\":\"text\",\"text\":")
            w.string(String(content[..<cut]))
            w.raw("},{\"type\":\"text\",\"text\":")
            w.string(String(content[cut...]))
            w.raw("}]")
        } else if let content {
            w.string(bytes: content)
        } else {
            w.raw("null")
        }
        if let toolCall {
            w.raw(",\"tool_calls\":[{\"id\":")
            w.string(toolCall.id)
            w.raw(",\"type\":\"function\",\"function\":{\"name\":")
            w.string(toolCall.name)
            w.raw(",\"arguments\":")
            // The arguments are JSON text already: as an object, or (the usual form) as a string.
            if options.objectArguments { w.raw(toolCall.arguments) } else { w.string(toolCall.arguments) }
            w.raw("}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]")
        } else {
            w.raw("},\"logprobs\":null,\"finish_reason\":\"stop\"}]")
        }
        w.raw(",\"usage\":{\"prompt_tokens\":")
        w.int(promptTokens)
        w.raw(",\"completion_tokens\":")
        w.int(completionTokens)
        w.raw(",\"total_tokens\":")
        w.int(promptTokens + completionTokens)
        w.raw("}}")
        return .respond(MockResponse(status: 200, body: w.bytes), delayNanoseconds: delay)
    }

    // MARK: Embeddings

    static let embeddingDimensions = 64

    private func embeddings(_ body: UnsafeRawBufferPointer) -> MockOutcome {
        let inputs: [String]
        let model: String
        do {
            let json = try JSONParser.parse(body, keeping: .members([("input", .all), ("model", .all)]))
            guard case .object = json else { throw BadRequest(message: "the request body must be a JSON object") }
            switch json["input"] {
            case .string(let s)?: inputs = [s]
            case .array(let elements)? where !elements.isEmpty && elements.allSatisfy({ $0.stringValue != nil }):
                inputs = elements.compactMap(\.stringValue)
            default:
                throw BadRequest(message: "'input' must be a string or a non-empty array of strings", param: "input")
            }
            model = json["model"]?.stringValue ?? options.model
        } catch {
            count { $0.requests += 1; $0.embeddings += 1; $0.badRequests += 1 }
            return .respond(badRequest(error), delayNanoseconds: 0)
        }
        count { $0.requests += 1; $0.embeddings += 1 }
        let draws = drawFaults(chat: false)
        if let outcome = transportOutcome(draws.transport, delay: draws.delayNanoseconds) { return outcome }

        var w = JSONWriter(capacity: inputs.count * 700 + 128)
        w.raw("{\"object\":\"list\",\"data\":[")
        var tokens = 0
        for (index, text) in inputs.enumerated() {
            if index > 0 { w.raw(",") }
            w.raw("{\"object\":\"embedding\",\"index\":")
            w.int(index)
            w.raw(",\"embedding\":[")
            for (i, x) in MockEngine.embed(text).enumerated() {
                if i > 0 { w.raw(",") }
                w.float(x)
            }
            w.raw("]}")
            tokens += max(1, text.utf8.count / 4)
        }
        w.raw("],\"model\":")
        w.string(model)
        w.raw(",\"usage\":{\"prompt_tokens\":")
        w.int(tokens)
        w.raw(",\"total_tokens\":")
        w.int(tokens)
        w.raw("}}")
        var bytes = w.bytes
        if draws.transport == .malformed {
            bytes.removeSubrange((bytes.count / 2)...)
        }
        return sentInPart(.respond(MockResponse(status: 200, body: bytes), delayNanoseconds: draws.delayNanoseconds), draws.transport)
    }

    /// A deterministic, L2-normalised bag-of-words vector: each lowercase word adds ±1 to one of 64 buckets.
    static func embed(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: embeddingDimensions)
        let words = WordList(text, scanBytes: .max)
        for i in 0..<words.count {
            let h = mix64(words.stableHash(i))
            vector[Int(h % UInt64(embeddingDimensions))] += (h >> 63) == 0 ? 1 : -1
        }
        var norm: Float = 0
        for x in vector { norm += x * x }
        if norm == 0 {
            vector[0] = 1
            return vector
        }
        let scale = 1 / norm.squareRoot()
        return vector.map { $0 * scale }
    }

    // MARK: Errors

    private func badRequest(_ error: Error) -> MockResponse {
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
