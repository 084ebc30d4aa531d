import Foundation
import Logging

/// A chat message as the API takes it.
public typealias ChatMessage = JSON

/// What one completed chat call returned.
public struct ChatReply: Sendable {
    /// The assistant message object (`role`, `content`, maybe `tool_calls`).
    public var message: JSON
    public var content: String { message["content"]?.stringValue ?? "" }
    public var toolCalls: [JSON] { message["tool_calls"]?.arrayValue ?? [] }
    public var finishReason: String
    public var usage: TokenUsage
    public var model: String
    public var endpoint: String
    /// The whole chat completion as the server sent it.
    public var raw: JSON
}

/// Why a chat call failed for good.
public struct LLMFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case unavailable, rejected, timeout, invalidReply }
    public var kind: Kind
    public var message: String
    public var description: String { message }
}

/// How the reply should be constrained.
public enum ResponseFormat: Sendable {
    case text
    /// A JSON object following `schema`; sent as `json_schema` where the endpoint takes it, else `json_object`.
    case json(name: String, schema: JSON)
}

/// OpenAI-compatible chat completions for every agent: routing across endpoints by weighted least
/// in-flight with a latency EWMA, retries with backoff and jitter honouring Retry-After, JSON-mode
/// fallback remembered per endpoint, token counting, and `logs/llm.log` without secrets.
public final class LLMClient: @unchecked Sendable {
    private let lock = NSLock()
    private var endpointState: [String: (inFlight: Int, latency: Double)] = [:]
    /// Per endpoint: 2 = json_schema works, 1 = only json_object, 0 = text only.
    private var jsonSupport: [String: Int] = [:]
    private var toolSupport: [String: Bool] = [:]
    /// Endpoints that refused the `seed` parameter (some providers reject fields they do not know).
    private var seedRefused: Set<String> = []
    private let log: Logger?
    public private(set) var totalUsage = TokenUsage()

    public init(logsDir: String?) {
        log = logsDir.map { DlgLog.logger("dlg.llm", logsDir: $0, file: "llm.log") }
    }


    /// Whether an endpoint has rejected `tools` before (then retrieval goes into the prompt).
    public func endpointRejectsTools(_ agent: AgentSettings) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return agent.endpoints.allSatisfy { toolSupport[$0.baseURL] == false }
    }

    // MARK: routing

    private func pick(_ endpoints: [Endpoint]) -> Endpoint {
        if endpoints.count == 1 { return endpoints[0] }
        lock.lock(); defer { lock.unlock() }
        var best: (Double, Double, Endpoint)?
        for e in endpoints {
            let s = endpointState[e.baseURL + "|" + e.name] ?? (0, 0.5)
            var pressure = Double(s.inFlight + 1) / max(e.weight, 1e-6)
            if e.maxInFlight > 0 && s.inFlight >= e.maxInFlight { pressure *= 1000 }
            let score = pressure * max(s.latency, 1e-3)
            let tie = Double.random(in: 0..<1)
            if best == nil || (score, tie) < (best!.0, best!.1) { best = (score, tie, e) }
        }
        return best!.2
    }

    private func begin(_ e: Endpoint) {
        lock.lock(); defer { lock.unlock() }
        let key = e.baseURL + "|" + e.name
        var s = endpointState[key] ?? (0, 0.5)
        s.inFlight += 1
        endpointState[key] = s
    }

    private func end(_ e: Endpoint, elapsed: Double) {
        lock.lock(); defer { lock.unlock() }
        let key = e.baseURL + "|" + e.name
        var s = endpointState[key] ?? (1, 0.5)
        s.inFlight -= 1
        s.latency = 0.8 * s.latency + 0.2 * elapsed
        endpointState[key] = s
    }

    // MARK: chat

    /// One chat completion with retries. `tools` are OpenAI function tool definitions.
    public func chat(agent: AgentSettings, messages: [ChatMessage], format: ResponseFormat,
                     tools: [JSON] = [], label: String = "") async throws(LLMFailure) -> ChatReply
    {
        var attempt = 0
        var lastError = ""
        let maxAttempts = agent.maxRetries + 1
        while attempt < maxAttempts {
            let endpoint = pick(agent.endpoints)
            let model = endpoint.model.isEmpty ? agent.model : endpoint.model
            let (json, toolsOK, seedOK) = lock.withLock {
                (jsonSupport[endpoint.baseURL] ?? 2, toolSupport[endpoint.baseURL] ?? true, !seedRefused.contains(endpoint.baseURL))
            }
            var body = JSONObject()
            body["model"] = .string(model)
            body["messages"] = .array(messages)
            if let t = agent.temperature { body["temperature"] = .double(t) }
            if let m = agent.maxTokens { body["max_tokens"] = .int(m) }
            if let p = agent.topP { body["top_p"] = .double(p) }
            if !tools.isEmpty && toolsOK {
                body["tools"] = .array(tools)
                body["tool_choice"] = "auto"
            }
            if case .json(let name, let schema) = format {
                if json >= 2 {
                    body["response_format"] = .obj([
                        "type": "json_schema",
                        "json_schema": .obj(["name": .string(name), "strict": false, "schema": schema]),
                    ])
                } else if json == 1 {
                    body["response_format"] = .obj(["type": "json_object"])
                }
            }
            for (k, v) in agent.extra.pairs where body[k] == nil { body[k] = v }
            let sentOurSeed = body["seed"] == nil && agent.requestSeed != nil && seedOK
            if sentOurSeed, let seed = agent.requestSeed { body["seed"] = .int(seed) }

            let timeout = endpoint.timeout ?? agent.timeout
            let started = Date()
            begin(endpoint)
            let outcome = await send(endpoint: endpoint, body: JSON.object(body), timeout: timeout)
            let elapsed = Date().timeIntervalSince(started)
            end(endpoint, elapsed: elapsed)
            let ms = Int(elapsed * 1000)
            switch outcome {
            case .success(let data):
                guard let reply = try? JSONCodec.parse(data), let choice = reply["choices"]?.arrayValue?.first,
                      let message = choice["message"], message.objectValue != nil
                else {
                    lastError = "\(endpoint.name): reply is not a chat completion"
                    log?.warning("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) status=200 ms=\(ms) error=malformed-completion \(label)")
                    attempt += 1
                    try await backoff(attempt: attempt, retryAfter: nil)
                    continue
                }
                var usage = TokenUsage()
                usage.promptTokens = reply["usage"]?["prompt_tokens"]?.intValue ?? 0
                usage.completionTokens = reply["usage"]?["completion_tokens"]?.intValue ?? 0
                usage.requests = 1
                lock.withLock { totalUsage += usage }
                let served = reply["model"]?.stringValue ?? model
                log?.info("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) model=\(model) status=200 ms=\(ms) prompt_tokens=\(usage.promptTokens) completion_tokens=\(usage.completionTokens) served_by=\(served) http_attempt=\(attempt + 1) \(label)")
                return ChatReply(message: message, finishReason: choice["finish_reason"]?.stringValue ?? "",
                                 usage: usage, model: served, endpoint: endpoint.name, raw: reply)
            case .status(let code, let data, let retryAfter):
                let text = String(decoding: data.prefix(400), as: UTF8.self)
                log?.warning("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) status=\(code) ms=\(ms) http_attempt=\(attempt + 1) \(label) body=\(Redact.text(text).prefix(200))")
                let lower = text.lowercased()
                // The endpoint does not take a parameter we sent (llama.cpp without --jinja says so with a
                // 500 for tools): step down, remember it for this endpoint, and retry at once.
                if code == 400 || code == 422 || code == 500 {
                    if body["response_format"] != nil && (lower.contains("response_format") || lower.contains("json_schema") || lower.contains("json_object") || lower.contains("grammar")) {
                        lock.withLock { jsonSupport[endpoint.baseURL] = max(0, json - 1) }
                        continue
                    }
                    if sentOurSeed && lower.contains("seed") {
                        lock.withLock { _ = seedRefused.insert(endpoint.baseURL) }
                        continue
                    }
                    if body["tools"] != nil && (lower.contains("tools param") || lower.contains("tool_choice") || lower.contains("does not support tools") || (code != 500 && (lower.contains("tool") || lower.contains("function")))) {
                        lock.withLock { toolSupport[endpoint.baseURL] = false }
                        continue
                    }
                }
                if code == 400 || code == 422 {
                    throw LLMFailure(kind: .rejected, message: "\(endpoint.name): HTTP \(code): \(Redact.text(text).prefix(200))")
                }
                if code == 401 || code == 403 || code == 404 {
                    throw LLMFailure(kind: .rejected, message: "\(endpoint.name): HTTP \(code) (check the model name and api key)")
                }
                lastError = "\(endpoint.name): HTTP \(code)"
                attempt += 1
                if attempt < maxAttempts {
                    try await backoff(attempt: attempt, retryAfter: retryAfter)
                } else if code == 500 || (code > 400 && code < 500 && code != 429) {
                    // A server that answers but keeps failing this one request (llama.cpp answers 500 when
                    // the model's output breaks its parser) is a bad reply, not an outage: the caller retries
                    // the call or drops the dialogue, and the run goes on.
                    throw LLMFailure(kind: .invalidReply, message: "\(lastError): \(Redact.text(text).prefix(200))")
                }
            case .failed(let reason, let isTimeout):
                log?.warning("agent=\(agent.agent.rawValue) endpoint=\(endpoint.name) error=\(reason) ms=\(ms) http_attempt=\(attempt + 1) \(label)")
                lastError = "\(endpoint.name): \(reason)"
                attempt += 1
                if attempt >= maxAttempts {
                    throw LLMFailure(kind: isTimeout ? .timeout : .unavailable, message: lastError)
                }
                try await backoff(attempt: attempt, retryAfter: nil)
            }
        }
        throw LLMFailure(kind: .unavailable, message: "\(lastError) after \(maxAttempts) attempts")
    }

    private func backoff(attempt: Int, retryAfter: Double?) async throws(LLMFailure) {
        var delay = min(30, 0.5 * pow(2, Double(attempt - 1)))
        delay = delay * (0.5 + Double.random(in: 0..<0.5))
        if let r = retryAfter { delay = max(delay, min(r, 120)) }
        do { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) } catch {
            throw LLMFailure(kind: .unavailable, message: "cancelled")
        }
    }

    enum Outcome {
        case success([UInt8])
        case status(Int, [UInt8], Double?)
        case failed(String, Bool)
    }

    private let transport = CurlTransport.shared

    private func headers(_ apiKey: String) -> [String] {
        var h = ["Content-Type: application/json", "Accept: application/json"]
        if !apiKey.isEmpty { h.append("Authorization: Bearer \(apiKey)") }
        return h
    }

    private func send(endpoint: Endpoint, body: JSON, timeout: Double) async -> Outcome {
        var bytes: [UInt8] = []
        body.write(into: &bytes)
        // Handed over, not copied: hundreds of request bodies wait on the server at once.
        return convert(await transport.perform(url: endpoint.baseURL + "/chat/completions", method: "POST",
                                               headers: headers(endpoint.apiKey), body: consume bytes, timeout: timeout))
    }

    private func convert(_ o: CurlTransport.Outcome) -> Outcome {
        switch o {
        case .response(let r):
            return r.status == 200 ? .success(r.body) : .status(r.status, r.body, r.retryAfter)
        case .failed(let message, let timedOut):
            return .failed(timedOut ? "timed out" : "connection error (\(message))", timedOut)
        }
    }

    /// GET `/models` of an endpoint: nil when healthy, else why not.
    public func checkModels(_ endpoint: Endpoint, timeout: Double = 10) async -> String? {
        switch convert(await transport.perform(url: endpoint.baseURL + "/models", method: "GET",
                                               headers: headers(endpoint.apiKey), body: nil, timeout: timeout)) {
        case .success: return nil
        case .status(let code, _, _): return "HTTP \(code)"
        case .failed(let reason, _): return reason
        }
    }

    /// Embeddings for `texts` from `/embeddings`, in order.
    public func embed(endpoint: Endpoint, model: String, texts: [String], timeout: Double = 120) async throws(LLMFailure) -> [[Double]] {
        var bytes: [UInt8] = []
        JSON.obj(["model": .string(model), "input": JSON(texts)]).write(into: &bytes)
        for attempt in 0..<4 {
            switch convert(await transport.perform(url: endpoint.baseURL + "/embeddings", method: "POST",
                                                   headers: headers(endpoint.apiKey), body: bytes, timeout: timeout)) {
            case .success(let data):
                guard let reply = try? JSONCodec.parse(data), let items = reply["data"]?.arrayValue else {
                    throw LLMFailure(kind: .invalidReply, message: "\(endpoint.name): embeddings reply is not valid")
                }
                var out = [[Double]](repeating: [], count: texts.count)
                for (i, item) in items.enumerated() {
                    let index = item["index"]?.intValue ?? i
                    guard index < out.count, let v = item["embedding"]?.arrayValue else { continue }
                    out[index] = v.compactMap { $0.doubleValue }
                }
                return out
            case .status(let code, _, let ra) where code == 429 || code >= 500:
                try await backoff(attempt: attempt + 1, retryAfter: ra)
            case .status(let code, _, _):
                throw LLMFailure(kind: .rejected, message: "\(endpoint.name): embeddings HTTP \(code)")
            case .failed(let reason, _):
                if attempt == 3 { throw LLMFailure(kind: .unavailable, message: "\(endpoint.name): \(reason)") }
                try await backoff(attempt: attempt + 1, retryAfter: nil)
            }
        }
        throw LLMFailure(kind: .unavailable, message: "\(endpoint.name): embeddings failed")
    }
}

/// Removes things that look like secrets from text that goes to logs or messages.
public enum Redact {
    public static func text(_ s: String) -> String {
        var out = s
        for prefix in ["sk-", "hf_", "Bearer "] {
            while let r = out.range(of: prefix) {
                var end = r.upperBound
                while end < out.endIndex, !out[end].isWhitespace, out[end] != "\"" { end = out.index(after: end) }
                out.replaceSubrange(r.lowerBound..<end, with: "[redacted]")
            }
        }
        // postgresql://user:password@host → postgresql://user:***@host
        if let scheme = out.range(of: "://"), let at = out[scheme.upperBound...].firstIndex(of: "@"),
           let colon = out[scheme.upperBound..<at].firstIndex(of: ":") {
            out.replaceSubrange(out.index(after: colon)..<at, with: "***")
        }
        return out
    }
}
