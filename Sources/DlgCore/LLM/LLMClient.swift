import Foundation
import Logging

/// OpenAI-compatible chat completions for every agent: routing across endpoints by weighted least
/// in-flight with a latency EWMA, retries with backoff and jitter honouring Retry-After, JSON-mode
/// fallback remembered per endpoint, token counting, and `logs/llm.log` without secrets.
public final class LLMClient: @unchecked Sendable {
    private let lock = NSLock()
    let router = EndpointRouter()
    let capabilities = EndpointCapabilities()
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

    /// Adds a reply's tokens to the client's totals.
    func addUsage(_ usage: TokenUsage) { lock.withLock { totalUsage += usage } }

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
    func sendBatched(customID: String, endpoint: Endpoint, model: String, body: consuming [UInt8]) async throws(LLMFailure) -> (Outcome, ServerRateLimit) {
        switch await batcher!.send(customID: customID, endpoint: endpoint, model: model, body: body) {
        case .reply(let status, let body): return (status == 200 ? .success(body) : .status(status, body, nil), ServerRateLimit())
        case .unanswered(let reason): return (.failed(reason, true), ServerRateLimit())
        case .fatal(let reason): throw LLMFailure(kind: .unavailable, message: "\(endpoint.name): \(reason)")
        }
    }

    func send(endpoint: Endpoint, body bytes: consuming [UInt8], timeout: Double) async -> (Outcome, ServerRateLimit) {
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
