import Foundation
import Logging

/// OpenAI-compatible chat completions for every agent: routing across endpoints by weighted least
/// in-flight with a latency EWMA, retries with backoff and jitter honouring Retry-After, JSON-mode
/// fallback remembered per endpoint, token counting, and `logs/llm.log` without secrets.
public final class LLMClient: @unchecked Sendable {
    private let lock = NSLock()
    let router = EndpointRouter()
    private let capabilities = EndpointCapabilities()
    let log: Logger?
    public private(set) var totalUsage = TokenUsage()
    /// Chat completions answered so far, by any call: whether the server serves others (`chat`'s retries).
    let answered = AnsweredCount()
    /// Trips when too many calls fail (`llm.error_storm.*`); then no call is sent any more.
    public let storm: ErrorStorm
    /// Finished calls replayed for free (`llm.cache.*`); nil when off or when the file cannot be opened.
    public let cache: ResponseCache?
    /// Leave to send: the run's broker (`llm.limitsSocket`), else this process's own limits.
    let limits: any LimitGate
    let layer: LLMLayerSettings
    /// The batching transport (`llm.batch_api.enabled`); nil sends every request directly.
    let batcher: BatchTransport?

    public init(logsDir: String?, layer: LLMLayerSettings = LLMLayerSettings()) {
        let log = logsDir.map { DlgLog.logger("dlg.llm", logsDir: $0, file: RunLayout.llmLog) }
        self.log = log
        storm = ErrorStorm(layer.errorStorm)
        var cache: ResponseCache?
        if layer.cache.enabled && !layer.cache.path.isEmpty {
            do { cache = try ResponseCache(path: layer.cache.path) } catch {
                log?.warning("response cache off: \(error.message)")
            }
        }
        self.cache = cache
        self.layer = layer
        batcher = layer.batch.enabled ? BatchTransport(settings: layer.batch, log: log) : nil
        var gate: (any LimitGate)?
        if let socket = layer.limitsSocket {
            do { gate = try LimitBrokerClient(path: socket, capabilities: capabilities,
                                             globalLimits: layer.rateLimit.requestsPerMinute != nil || layer.rateLimit.tokensPerMinute != nil) } catch {
                log?.warning("limits of this process only (the run's broker is not reachable): \(error.message)")
            }
        }
        if gate == nil {
            let local = LocalLimits(layer)
            if let log { local.scheduler.onEvent = { log.info("\($0)") } }
            gate = local
        }
        limits = gate!
    }

    /// Where each endpoint's limits stand in this process (empty when the run's broker holds them).
    public func limitStates() -> [EndpointLimitState] { limits.states() }

    /// What a request counts against a tokens-per-minute limit before it is sent: its prompt (about four
    /// bytes a token) plus what the reply may take. Only worked out when such a limit is set.
    /// `messageBytes`: the messages as serialized for the request.
    static func estimatedTokens(messageBytes: Int, tools: [JSON], maxTokens: Int?) -> Int {
        var bytes = messageBytes
        for t in tools { bytes += t.serialized().utf8.count }
        return bytes / 4 + (maxTokens ?? 512)
    }

    /// Whether an endpoint has rejected `tools` before (then retrieval goes into the prompt).
    public func endpointRejectsTools(_ agent: AgentSettings) -> Bool {
        capabilities.refusesTools(agent.endpoints)
    }

    /// The request body for one attempt, within what the endpoint has been found to take.
    static func requestBody(agent: AgentSettings, model: String, messages: [ChatMessage], format: ResponseFormat,
                            tools: [JSON], can: EndpointCapabilities.Snapshot) -> (body: JSONObject, sentOurSeed: Bool) {
        var body = JSONObject()
        body["model"] = .string(model)
        body["messages"] = .array(messages)
        if let t = agent.temperature { body["temperature"] = .double(t) }
        if let m = agent.maxTokens { body["max_tokens"] = .int(m) }
        if let p = agent.topP { body["top_p"] = .double(p) }
        if !tools.isEmpty && can.tools {
            body["tools"] = .array(tools)
            body["tool_choice"] = "auto"
        }
        if case .json(let name, let schema) = format {
            switch can.json {
            case .jsonSchema:
                body["response_format"] = .obj([
                    "type": "json_schema",
                    "json_schema": .obj(["name": .string(name), "strict": false, "schema": schema]),
                ])
            case .jsonObject: body["response_format"] = .obj(["type": "json_object"])
            case .text: break
            }
        }
        for (k, v) in agent.extra.pairs where body[k] == nil { body[k] = v }
        let sentOurSeed = body["seed"] == nil && agent.requestSeed != nil && can.seed
        if sentOurSeed, let seed = agent.requestSeed { body["seed"] = .int(seed) }
        return (body, sentOurSeed)
    }

    /// A request's bytes: `body` as `requestBody` made it, with the messages, the tools and a JSON
    /// schema format written from bytes serialized before (the same bytes as writing it whole).
    static func requestBytes(_ body: JSONObject, messagesJSON: [UInt8], format: ResponseFormat, tools: [JSON],
                             can: EndpointCapabilities.Snapshot) -> [UInt8] {
        var raw: [(key: String, bytes: [UInt8])] = [("messages", messagesJSON)]
        if !tools.isEmpty && can.tools { raw.append(("tools", RequestParts.shared.bytes(.array(tools)))) }
        if case .json(let name, let schema) = format, can.json == .jsonSchema {
            raw.append(("response_format", RequestParts.shared.jsonSchemaFormat(name: name, schema: schema)))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(messagesJSON.count + 1024 + raw.dropFirst().reduce(0) { $0 + $1.bytes.count })
        JSON.write(body, raw: raw, into: &bytes)
        return bytes
    }

    /// One chat completion with retries. `tools` are OpenAI function tool definitions.
    public func chat(agent: AgentSettings, messages: [ChatMessage], format: ResponseFormat,
                     tools: [JSON] = [], label: String = "") async throws(LLMFailure) -> ChatReply
    {
        // The messages are most of a request's bytes: serialized once, for the cache key and every attempt's body.
        let messagesJSON = JSON.array(messages).compactBytes()
        // A batched request's custom_id is its cache key, with or without the cache.
        let cacheKey = cache != nil || batcher != nil ? ResponseCache.chatKey(agent: agent, messagesJSON: messagesJSON, format: format, tools: tools) : nil
        if let cacheKey, let reply = cachedChat(cacheKey, agent: agent, label: label) { return reply }
        var attempt = 0
        var lastError = ""
        /// The last failure of the endpoint itself, for the error storm: a call counts once, when it fails for good.
        var lastOutage: (endpoint: String, error: String)?
        let maxAttempts = agent.maxRetries + 1
        /// Attempts this call may make: `maxAttempts`, extended one at a time (up to twice that) while the
        /// server answers other requests meanwhile. A call unlucky enough to meet transient faults on every
        /// attempt (429, 5xx, a reset, a timeout) is then not taken for a server that is down, which would
        /// stop the stage (exit 69); a server that answers nobody still fails the call after `maxAttempts`.
        var limit = maxAttempts
        let answeredAtStart = answered.value
        func extendWhileServed() {
            if attempt >= limit && limit < 2 * maxAttempts && answered.value > answeredAtStart { limit += 1 }
        }
        /// Requests moved at once to another endpoint after a refused connection (not counted as
        /// attempts; at most one per endpoint, so a call cannot loop over dead ones).
        var failovers = 0
        let routed = agent.endpoints.count > 1
        while attempt < limit {
            if let stopped = storm.tripped { throw LLMFailure(kind: .unavailable, message: stopped) }
            let endpoint = router.pick(agent.endpoints)
            let model = endpoint.model.isEmpty ? agent.model : endpoint.model
            // In a batch, or (a retry with llm.batch_api.retry_direct) sent directly.
            let batched = batcher != nil && cacheKey != nil && !(attempt > 0 && layer.batch.retryDirect)
            // Leave to send first (max_in_flight, the adaptive limit, the rate limits, a pause the server
            // asked for); with it comes what the run knows the endpoint refuses. A batch has limits of its own.
            let tokens = (layer.rateLimit.tokensPerMinute != nil || endpoint.rateLimit.tokensPerMinute != nil)
                ? Self.estimatedTokens(messageBytes: messagesJSON.count, tools: tools, maxTokens: agent.maxTokens) : 0
            var lease: LeaseGrant?
            if !batched {
                lease = await limits.acquire(EndpointLimitSpec(endpoint, layer: layer), tokens: tokens)
                if lease == nil {
                    throw LLMFailure(kind: .unavailable, message: Task.isCancelled ? "cancelled" : "\(endpoint.name): the run's limits broker is gone (dlg-run stopped)")
                }
            }
            if let known = lease?.capabilities { capabilities.merge(endpoint.baseURL, known) }
            let can = capabilities.snapshot(endpoint.baseURL)
            let (body, sentOurSeed) = Self.requestBody(agent: agent, model: model, messages: messages, format: format,
                                                       tools: tools, can: can)
            let timeout = endpoint.timeout ?? agent.timeout
            let started = Date()
            router.begin(endpoint)
            let bytes = Self.requestBytes(body, messagesJSON: messagesJSON, format: format, tools: tools, can: can)
            let (outcome, server) = batched
                ? try await sendBatched(customID: cacheKey!, endpoint: endpoint, model: model, body: consume bytes)
                : await send(endpoint: endpoint, body: consume bytes, timeout: timeout)
            let elapsed = Date().timeIntervalSince(started)
            router.end(endpoint, elapsed: elapsed)
            // A reply's lease is given back once its usage is read (below), the others' at once.
            if let lease, let ended = Self.leaseOutcome(outcome, server: server, elapsed: elapsed) { limits.release(lease, ended) }
            let ms = Int(elapsed * 1000)
            if routed, outcome.answered { router.markReachable(endpoint) }
            switch outcome {
            case .success(let data):
                guard let reply = try? JSONCodec.parse(data), let choice = reply["choices"]?.arrayValue?.first,
                      let message = choice["message"], message.objectValue != nil
                else {
                    if let lease { limits.release(lease, LeaseOutcome(end: .failed, elapsed: elapsed, server: server)) }
                    lastOutage = (endpoint.name, "reply is not a chat completion")
                    lastError = "\(endpoint.name): reply is not a chat completion"
                    log?.warning("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) status=200 ms=\(ms) error=malformed-completion \(label)")
                    attempt += 1
                    try await RetryPolicy.sleep(attempt: attempt, retryAfter: nil)
                    continue
                }
                storm.success()
                answered.increment()
                if let cacheKey { cache?.put(cacheKey, data) }
                var usage = TokenUsage()
                usage.promptTokens = reply["usage"]?["prompt_tokens"]?.intValue ?? 0
                usage.completionTokens = reply["usage"]?["completion_tokens"]?.intValue ?? 0
                usage.requests = 1
                if let lease {
                    limits.release(lease, LeaseOutcome(end: .ok, elapsed: elapsed, tokens: reply["usage"] == nil ? nil : usage.promptTokens + usage.completionTokens,
                                                       server: server))
                }
                lock.withLock { totalUsage += usage }
                let served = reply["model"]?.stringValue ?? model
                log?.info("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) model=\(model) status=200 ms=\(ms)\(batched ? " batch=1" : "") prompt_tokens=\(usage.promptTokens) completion_tokens=\(usage.completionTokens) served_by=\(served) http_attempt=\(attempt + 1) \(label)")
                return ChatReply(message: message, finishReason: choice["finish_reason"]?.stringValue ?? "",
                                 usage: usage, model: served, endpoint: endpoint.name, raw: reply)
            case .tooLarge(let limit):
                // A server that sends more than the cap is not overloaded, it is wrong: no retry.
                storm.failure(endpoint: endpoint.name, error: "reply too large")
                log?.warning("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) status=200 ms=\(ms) http_attempt=\(attempt + 1) error=reply-too-large \(label)")
                throw LLMFailure(kind: .rejected, message: Self.tooLargeMessage(endpoint.name, limit))
            case .status(let code, let data, let retryAfter):
                // Masked whole, then cut: a key the server echoed is never left half-masked at the cut.
                let text = String(Redact.text(String(decoding: data.prefix(64 << 10), as: UTF8.self)).prefix(400))
                lastOutage = (endpoint.name, "HTTP \(code)")
                log?.warning("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) status=\(code) ms=\(ms) http_attempt=\(attempt + 1) \(label) body=\(text.prefix(200))")
                // The endpoint does not take a parameter we sent: step down and retry at once.
                if capabilities.learnRefusal(status: code, body: text, request: body, sentOurSeed: sentOurSeed,
                                             baseURL: endpoint.baseURL, current: can) {
                    limits.learned(endpoint.baseURL, capabilities.snapshot(endpoint.baseURL))
                    continue
                }
                if code == 400 || code == 422 {
                    throw LLMFailure(kind: .rejected, message: "\(endpoint.name): HTTP \(code): \(text.prefix(200))")
                }
                if RetryPolicy.isFinal(code) {
                    storm.failure(endpoint: endpoint.name, error: "HTTP \(code)")
                    throw LLMFailure(kind: .rejected, message: "\(endpoint.name): HTTP \(code) (check the model name and api key)")
                }
                lastError = "\(endpoint.name): HTTP \(code)"
                attempt += 1
                extendWhileServed()
                if attempt < limit {
                    try await RetryPolicy.sleep(attempt: attempt, retryAfter: retryAfter)
                } else if RetryPolicy.isBadReply(code) {
                    storm.failure(endpoint: endpoint.name, error: "HTTP \(code)")
                    throw LLMFailure(kind: .invalidReply, message: "\(lastError): \(text.prefix(200))")
                }
            case .failed(let reason, let isTimeout):
                lastOutage = (endpoint.name, reason)
                log?.warning("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) error=\(reason) ms=\(ms) http_attempt=\(attempt + 1) \(label)")
                lastError = "\(endpoint.name): \(reason)"
                // A replica that cannot be reached (it died) is left out of routing and the request
                // goes to another one at once; a timeout is load, not death, and is retried as usual.
                if routed && !isTimeout && router.markUnreachable(endpoint, among: agent.endpoints) && failovers < agent.endpoints.count {
                    failovers += 1
                    log?.warning("endpoint=\(endpoint.name) out of routing for now (unreachable); out: \(router.unreachable(agent.endpoints).joined(separator: ","))")
                    continue
                }
                attempt += 1
                extendWhileServed()
                if attempt >= limit {
                    storm.failure(endpoint: endpoint.name, error: reason)
                    throw LLMFailure(kind: isTimeout ? .timeout : .unavailable, message: lastError)
                }
                try await RetryPolicy.sleep(attempt: attempt, retryAfter: nil)
            }
        }
        if let o = lastOutage { storm.failure(endpoint: o.endpoint, error: o.error) }
        throw LLMFailure(kind: .unavailable, message: "\(lastError) after \(limit) attempts")
    }

    enum Outcome {
        case success([UInt8])
        case status(Int, [UInt8], Double?)
        case failed(String, Bool)
        /// The reply passed `llm.max_response_bytes` (the cap) and was stopped there.
        case tooLarge(Int)

        /// The server answered (whatever it said).
        var answered: Bool { if case .failed = self { false } else { true } }
    }

    let transport = CurlTransport.shared

    func headers(_ apiKey: String) -> [String] {
        var h = ["Content-Type: application/json", "Accept: application/json"]
        if !apiKey.isEmpty { h.append("Authorization: Bearer \(apiKey)") }
        return h
    }

    /// One request in a batch: its line as the outcome a direct request would have had. A batch that
    /// failed as a whole twice stops the call (and the stage) with its error.
    private func sendBatched(customID: String, endpoint: Endpoint, model: String, body: consuming [UInt8]) async throws(LLMFailure) -> (Outcome, ServerRateLimit) {
        switch await batcher!.send(customID: customID, endpoint: endpoint, model: model, body: body) {
        case .reply(let status, let body): return (status == 200 ? .success(body) : .status(status, body, nil), ServerRateLimit())
        case .unanswered(let reason): return (.failed(reason, true), ServerRateLimit())
        case .fatal(let reason): throw LLMFailure(kind: .unavailable, message: "\(endpoint.name): \(reason)")
        }
    }

    private func send(endpoint: Endpoint, body bytes: consuming [UInt8], timeout: Double) async -> (Outcome, ServerRateLimit) {
        // Handed over, not copied: hundreds of request bodies wait on the server at once.
        let raw = await transport.perform(url: endpoint.baseURL + "/chat/completions", method: "POST",
                                          headers: headers(endpoint.apiKey), body: consume bytes, timeout: timeout,
                                          maxResponseBytes: layer.maxResponseBytes)
        var server = ServerRateLimit()
        if case .response(let r) = raw, !r.rateLimit.isEmpty { server = ServerRateLimit(headers: r.rateLimit) }
        return (convert(raw), server)
    }

    /// How a request ended, for its lease: what tells the limits about the server's load. Nil for a
    /// reply, whose lease ends once its usage is read.
    static func leaseOutcome(_ o: Outcome, server: ServerRateLimit, elapsed: Double) -> LeaseOutcome? {
        switch o {
        case .success:
            return nil
        case .status(let code, _, let retryAfter):
            return LeaseOutcome(end: code == 429 || code == 503 ? .overloaded : .failed, elapsed: elapsed,
                                retryAfter: retryAfter, server: server)
        case .failed(_, let timedOut):
            return LeaseOutcome(end: timedOut ? .timeout : .failed, elapsed: elapsed)
        case .tooLarge:
            return LeaseOutcome(end: .failed, elapsed: elapsed)
        }
    }

    func convert(_ o: CurlTransport.Outcome) -> Outcome {
        switch o {
        case .response(let r):
            return r.status == 200 ? .success(r.body) : .status(r.status, r.body, r.retryAfter)
        case .failed(let message, let timedOut):
            return .failed(timedOut ? "timed out" : "connection error (\(message))", timedOut)
        case .tooLarge(let limit, _):
            return .tooLarge(limit)
        }
    }

    static func tooLargeMessage(_ endpoint: String, _ limit: Int) -> String {
        "\(endpoint): the reply is larger than llm.max_response_bytes (\(limit) bytes); the transfer was stopped there"
    }

    /// GET `/models` of an endpoint: nil when healthy, else why not.
    public func checkModels(_ endpoint: Endpoint, timeout: Double = 10) async -> String? {
        switch convert(await transport.perform(url: endpoint.baseURL + "/models", method: "GET",
                                               headers: headers(endpoint.apiKey), body: nil, timeout: timeout,
                                               maxResponseBytes: layer.maxResponseBytes)) {
        case .success: return nil
        case .status(let code, _, _): return "HTTP \(code)"
        case .failed(let reason, _): return reason
        case .tooLarge(let limit): return Self.tooLargeMessage("/models", limit)
        }
    }


}
