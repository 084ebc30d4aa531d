import Foundation

/// The attempts of one chat call: how many were made and may be made, and what failed last.
struct ChatAttempts {
    var attempt = 0
    /// Attempts this call may make: `maxAttempts`, extended one at a time (up to twice that) while the
    /// server answers other requests meanwhile. A call unlucky enough to meet transient faults on every
    /// attempt (429, 5xx, a reset, a timeout) is then not taken for a server that is down, which would
    /// stop the stage (exit 69); a server that answers nobody still fails the call after `maxAttempts`.
    var limit: Int
    let maxAttempts: Int
    /// Replies the client had when the call started.
    let answeredAtStart: Int
    var lastError = ""
    /// The last failure of the endpoint itself, for the error storm: a call counts once, when it fails for good.
    var lastOutage: (endpoint: String, error: String)?
    /// Requests moved at once to another endpoint after a refused connection (not counted as
    /// attempts; at most one per endpoint, so a call cannot loop over dead ones).
    var failovers = 0

    init(maxAttempts: Int, answeredAtStart: Int) {
        self.maxAttempts = maxAttempts
        self.limit = maxAttempts
        self.answeredAtStart = answeredAtStart
    }

    /// Counts a failed attempt, extending the limit while the server answers others.
    mutating func failed(answeredNow: Int) {
        attempt += 1
        if attempt >= limit && limit < 2 * maxAttempts && answeredNow > answeredAtStart { limit += 1 }
    }
}

/// One request of a chat call as it was sent, for the handling of its outcome.
struct ChatRequest {
    let agent: AgentSettings
    let endpoint: Endpoint
    let model: String
    let body: JSONObject
    let sentOurSeed: Bool
    let can: EndpointCapabilities.Snapshot
    let lease: LeaseGrant?
    let batched: Bool
    let elapsed: Double
    let server: ServerRateLimit
    let label: String
    var ms: Int { Int(elapsed * 1000) }
    /// The start of every log line about it.
    var logHead: String { "agent=\(agent.agent.rawValue) endpoint=\(endpoint.name)" }
}

extension LLMClient {
    /// One chat completion with retries. `tools` are OpenAI function tool definitions.
    public func chat(agent: AgentSettings, messages: [ChatMessage], format: ResponseFormat,
                     tools: [JSON] = [], label: String = "") async throws(LLMFailure) -> ChatReply
    {
        // The messages are most of a request's bytes: serialized once, for the cache key and every attempt's body.
        let messagesJSON = JSON.array(messages).compactBytes()
        // A batched request's custom_id is its cache key, with or without the cache.
        let cacheKey = cache != nil || batcher != nil ? ResponseCache.chatKey(agent: agent, messagesJSON: messagesJSON, format: format, tools: tools) : nil
        if let cacheKey, let reply = cachedChat(cacheKey, agent: agent, label: label) { return reply }
        var calls = ChatAttempts(maxAttempts: agent.maxRetries + 1, answeredAtStart: answered.value)
        while calls.attempt < calls.limit {
            if let stopped = storm.tripped { throw LLMFailure(kind: .unavailable, message: stopped) }
            let endpoint = router.pick(agent.endpoints)
            // In a batch, or (a retry with llm.batch_api.retry_direct) sent directly.
            let batched = batcher != nil && cacheKey != nil && !(calls.attempt > 0 && layer.batch.retryDirect)
            let (outcome, request) = try await sendOnce(agent: agent, endpoint: endpoint, messages: messages,
                                                        messagesJSON: messagesJSON, format: format, tools: tools,
                                                        batchedAs: batched ? cacheKey : nil, label: label)
            switch outcome {
            case .success(let data):
                if let reply = try await accepted(data, request, cacheKey: cacheKey, calls: &calls) { return reply }
            case .tooLarge(let limit):
                // A server that sends more than the cap is not overloaded, it is wrong: no retry.
                storm.failure(endpoint: endpoint.name, error: "reply too large")
                log?.warning("\(request.logHead) status=200 ms=\(request.ms) http_attempt=\(calls.attempt + 1) error=reply-too-large \(label)")
                throw LLMFailure(kind: .rejected, message: Self.tooLargeMessage(endpoint.name, limit))
            case .status(let code, let data, let retryAfter):
                try await refused(code, data, retryAfter: retryAfter, request, calls: &calls)
            case .failed(let reason, let isTimeout):
                try await unreached(reason, isTimeout: isTimeout, request, calls: &calls)
            }
        }
        if let o = calls.lastOutage { storm.failure(endpoint: o.endpoint, error: o.error) }
        throw LLMFailure(kind: .unavailable, message: "\(calls.lastError) after \(calls.limit) attempts")
    }

    /// Sends one request of a call to `endpoint`, after leave from the run's limits (`max_in_flight`,
    /// the adaptive limit, the rate limits, a pause the server asked for; with it comes what the run
    /// knows the endpoint refuses), or into a batch (`batchedAs`: its custom_id), which has limits of its own.
    func sendOnce(agent: AgentSettings, endpoint: Endpoint, messages: [ChatMessage], messagesJSON: [UInt8],
                  format: ResponseFormat, tools: [JSON], batchedAs customID: String?, label: String)
        async throws(LLMFailure) -> (Outcome, ChatRequest)
    {
        let model = endpoint.model.isEmpty ? agent.model : endpoint.model
        var lease: LeaseGrant?
        if customID == nil {
            let tokens = (layer.rateLimit.tokensPerMinute != nil || endpoint.rateLimit.tokensPerMinute != nil)
                ? Self.estimatedTokens(messageBytes: messagesJSON.count, tools: tools, maxTokens: agent.maxTokens) : 0
            lease = await limits.acquire(EndpointLimitSpec(endpoint, layer: layer), tokens: tokens)
            if lease == nil {
                throw LLMFailure(kind: .unavailable, message: Task.isCancelled ? "cancelled" : "\(endpoint.name): the run's limits broker is gone (dlg-run stopped)")
            }
        }
        if let known = lease?.capabilities { capabilities.merge(endpoint.baseURL, known) }
        let can = capabilities.snapshot(endpoint.baseURL)
        let (body, sentOurSeed) = Self.requestBody(agent: agent, model: model, messages: messages, format: format,
                                                   tools: tools, can: can)
        let started = Date()
        router.begin(endpoint)
        let bytes = Self.requestBytes(body, messagesJSON: messagesJSON, format: format, tools: tools, can: can)
        let (outcome, server) = if let customID {
            try await sendBatched(customID: customID, endpoint: endpoint, model: model, body: consume bytes)
        } else {
            await send(endpoint: endpoint, body: consume bytes, timeout: endpoint.timeout ?? agent.timeout)
        }
        let elapsed = Date().timeIntervalSince(started)
        router.end(endpoint, elapsed: elapsed)
        // A reply's lease is given back once its usage is read (`accepted`), the others' at once.
        if let lease, let ended = Self.leaseOutcome(outcome, server: server, elapsed: elapsed) { limits.release(lease, ended) }
        if agent.endpoints.count > 1, outcome.answered { router.markReachable(endpoint) }
        return (outcome, ChatRequest(agent: agent, endpoint: endpoint, model: model, body: body, sentOurSeed: sentOurSeed,
                                     can: can, lease: lease, batched: customID != nil, elapsed: elapsed, server: server,
                                     label: label))
    }

    /// A 200 reply: the chat reply, or nil when it is not a chat completion (counted as a failed
    /// attempt, after the backoff).
    func accepted(_ data: [UInt8], _ r: ChatRequest, cacheKey: String?, calls: inout ChatAttempts)
        async throws(LLMFailure) -> ChatReply?
    {
        guard let reply = try? JSONCodec.parse(data), let choice = reply["choices"]?.arrayValue?.first,
              let message = choice["message"], message.objectValue != nil
        else {
            if let lease = r.lease { limits.release(lease, LeaseOutcome(end: .failed, elapsed: r.elapsed, server: r.server)) }
            calls.lastOutage = (r.endpoint.name, "reply is not a chat completion")
            calls.lastError = "\(r.endpoint.name): reply is not a chat completion"
            log?.warning("\(r.logHead) status=200 ms=\(r.ms) error=malformed-completion \(r.label)")
            calls.attempt += 1
            try await RetryPolicy.sleep(attempt: calls.attempt, retryAfter: nil)
            return nil
        }
        storm.success()
        answered.increment()
        if let cacheKey { cache?.put(cacheKey, data) }
        var usage = TokenUsage()
        usage.promptTokens = reply["usage"]?["prompt_tokens"]?.intValue ?? 0
        usage.completionTokens = reply["usage"]?["completion_tokens"]?.intValue ?? 0
        usage.requests = 1
        if let lease = r.lease {
            limits.release(lease, LeaseOutcome(end: .ok, elapsed: r.elapsed, tokens: reply["usage"] == nil ? nil : usage.promptTokens + usage.completionTokens,
                                               server: r.server))
        }
        addUsage(usage)
        let served = reply["model"]?.stringValue ?? r.model
        log?.info("\(r.logHead) model=\(r.model) status=200 ms=\(r.ms)\(r.batched ? " batch=1" : "") prompt_tokens=\(usage.promptTokens) completion_tokens=\(usage.completionTokens) served_by=\(served) http_attempt=\(calls.attempt + 1) \(r.label)")
        return ChatReply(message: message, finishReason: choice["finish_reason"]?.stringValue ?? "",
                         usage: usage, model: served, endpoint: r.endpoint.name, raw: reply)
    }

    /// An HTTP error status: a parameter the endpoint does not take is stepped down at once; 400 and
    /// 422 and the final statuses fail the call; the others are retried after the backoff.
    func refused(_ code: Int, _ data: [UInt8], retryAfter: Double?, _ r: ChatRequest, calls: inout ChatAttempts)
        async throws(LLMFailure)
    {
        // Masked whole, then cut: a key the server echoed is never left half-masked at the cut.
        let text = String(Redact.text(String(decoding: data.prefix(64 << 10), as: UTF8.self)).prefix(400))
        let name = r.endpoint.name
        calls.lastOutage = (name, "HTTP \(code)")
        log?.warning("\(r.logHead) status=\(code) ms=\(r.ms) http_attempt=\(calls.attempt + 1) \(r.label) body=\(text.prefix(200))")
        // The endpoint does not take a parameter we sent: step down and retry at once.
        if capabilities.learnRefusal(status: code, body: text, request: r.body, sentOurSeed: r.sentOurSeed,
                                     baseURL: r.endpoint.baseURL, current: r.can) {
            limits.learned(r.endpoint.baseURL, capabilities.snapshot(r.endpoint.baseURL))
            return
        }
        if code == 400 || code == 422 {
            throw LLMFailure(kind: .rejected, message: "\(name): HTTP \(code): \(text.prefix(200))")
        }
        if RetryPolicy.isFinal(code) {
            storm.failure(endpoint: name, error: "HTTP \(code)")
            throw LLMFailure(kind: .rejected, message: "\(name): HTTP \(code) (check the model name and api key)")
        }
        calls.lastError = "\(name): HTTP \(code)"
        calls.failed(answeredNow: answered.value)
        if calls.attempt < calls.limit {
            try await RetryPolicy.sleep(attempt: calls.attempt, retryAfter: retryAfter)
        } else if RetryPolicy.isBadReply(code) {
            storm.failure(endpoint: name, error: "HTTP \(code)")
            throw LLMFailure(kind: .invalidReply, message: "\(calls.lastError): \(text.prefix(200))")
        }
    }

    /// No reply: a replica that cannot be reached (it died) is left out of routing and the request
    /// goes to another one at once; a timeout is load, not death, and is retried as usual.
    func unreached(_ reason: String, isTimeout: Bool, _ r: ChatRequest, calls: inout ChatAttempts) async throws(LLMFailure) {
        let endpoints = r.agent.endpoints
        calls.lastOutage = (r.endpoint.name, reason)
        log?.warning("\(r.logHead) error=\(reason) ms=\(r.ms) http_attempt=\(calls.attempt + 1) \(r.label)")
        calls.lastError = "\(r.endpoint.name): \(reason)"
        if endpoints.count > 1 && !isTimeout && router.markUnreachable(r.endpoint, among: endpoints) && calls.failovers < endpoints.count {
            calls.failovers += 1
            log?.warning("endpoint=\(r.endpoint.name) out of routing for now (unreachable); out: \(router.unreachable(endpoints).joined(separator: ","))")
            return
        }
        calls.failed(answeredNow: answered.value)
        if calls.attempt >= calls.limit {
            storm.failure(endpoint: r.endpoint.name, error: reason)
            throw LLMFailure(kind: isTimeout ? .timeout : .unavailable, message: calls.lastError)
        }
        try await RetryPolicy.sleep(attempt: calls.attempt, retryAfter: nil)
    }
}
