/// The three agents of upstream dlgforge; the conversation judge uses qa_judge's settings.
public enum AgentName: String, Sendable, CaseIterable {
    case qaGenerator = "qa_generator"
    case kbResponder = "kb_responder"
    case qaJudge = "qa_judge"
}

/// One OpenAI-compatible server an agent may be routed to.
public struct Endpoint: Sendable, Equatable {
    public var name: String
    public var baseURL: String
    /// Never logged or shown; `Endpoint.description` leaves it out.
    public var apiKey: String
    public var weight: Double
    public var maxInFlight: Int
    public var timeout: Double?
    public var model: String
}

/// An agent's LLM settings after upstream's resolution order:
/// global `llm.*`, then `llm.agents.<agent>.*`, then `LLM_<AGENT>_<KEY>` / `LLM_<KEY>`, then fallbacks.
public struct AgentSettings: Sendable {
    public var agent: AgentName
    public var backend: String
    public var provider: String
    public var model: String
    public var temperature: Double?
    public var maxTokens: Int?
    public var topP: Double?
    public var timeout: Double
    public var maxRetries: Int
    public var extra: JSONObject
    public var endpoints: [Endpoint]
    /// The `seed` sent with the next request; set per call by the stages (`RequestSeed`), not read from
    /// the config. `llm.extra.seed` (or the agent's) wins over it, and `seed: null` there sends none.
    public var requestSeed: Int? = nil

    /// Upstream's "agent used name": `provider/model` when the model has no "/".
    public var usedName: String {
        if !provider.isEmpty && !model.contains("/") { return "\(provider)/\(model)" }
        return model
    }

    static let envKeys = ["BACKEND", "PROVIDER", "MODEL", "BASE_URL", "API_KEY", "API_KEY_ENV", "TEMPERATURE",
                          "MAX_TOKENS", "TOP_P", "TIMEOUT", "MAX_RETRIES"]

    static func resolve(_ agent: AgentName, reader r: ConfigReader) throws(DlgError) -> AgentSettings {
        let environment = r.tree.environment
        let agentPath = "llm.agents.\(agent.rawValue)"
        if let v = r.tree.value(at: agentPath), !v.isNull, v.objectValue == nil {
            throw r.fail(agentPath, v, "a mapping of llm settings")
        }
        // Per-agent values win where they are not null; record which path each value came from.
        func path(_ key: String) -> String {
            if let v = r.tree.value(at: "\(agentPath).\(key)"), !v.isNull { return "\(agentPath).\(key)" }
            return "llm.\(key)"
        }
        let prefix = "LLM_" + agent.rawValue.uppercased() + "_"
        func env(_ key: String) -> String? {
            if let v = envValue(prefix + key, environment) { return v }
            return envValue("LLM_" + key, environment)
        }
        func envNumber(_ key: String) throws(DlgError) -> Double? {
            guard let raw = env(key) else { return nil }
            guard let d = Double(raw) else {
                throw DlgError.config("environment variable \(prefix)\(key) or LLM_\(key): expected a number, got \"\(raw)\"")
            }
            return d
        }

        var backend = try r.string(path("backend"))
        if let e = env("BACKEND") { backend = e }
        var provider = try r.string(path("provider"))
        if let e = env("PROVIDER") { provider = e }
        var model = try r.string(path("model"))
        if let e = env("MODEL") { model = e }
        var baseURL = try r.string(path("base_url"))
        if let e = env("BASE_URL") { baseURL = e }
        var apiKey = try r.string(path("api_key"))
        if let e = env("API_KEY") { apiKey = e }
        var apiKeyEnv = try r.string(path("api_key_env"))
        if let e = env("API_KEY_ENV") { apiKeyEnv = e }
        var temperature = try r.optionalDouble(path("temperature"))
        if let e = try envNumber("TEMPERATURE") { temperature = e }
        var maxTokens = try r.optionalInt(path("max_tokens"), min: 1)
        if let e = try envNumber("MAX_TOKENS") { maxTokens = Int(e) }
        var topP = try r.optionalDouble(path("top_p"))
        if let e = try envNumber("TOP_P") { topP = e }
        var timeout = try r.optionalDouble(path("timeout"))
        if let e = try envNumber("TIMEOUT") { timeout = e }
        var maxRetries = try r.optionalInt(path("max_retries"), min: 0)
        if let e = try envNumber("MAX_RETRIES") { maxRetries = Int(e) }
        if let t = temperature, t < 0 || t > 2 { throw r.fail(path("temperature"), .double(t), "a number from 0 to 2") }
        if let t = timeout, t <= 0 { throw r.fail(path("timeout"), .double(t), "a positive number of seconds") }

        if apiKey.isEmpty, !apiKeyEnv.isEmpty { apiKey = envValue(apiKeyEnv, environment) ?? "" }
        if apiKey.isEmpty { apiKey = envValue("OPENAI_API_KEY", environment) ?? "" }
        if baseURL.isEmpty { baseURL = envValue("OPENAI_BASE_URL", environment) ?? "" }
        if model.isEmpty { model = envValue("LLM_MODEL", environment) ?? envValue("OPENAI_MODEL", environment) ?? "" }
        if apiKey.isEmpty, !baseURL.isEmpty { apiKey = "EMPTY" }
        if baseURL.isEmpty, !apiKey.isEmpty, apiKey != "EMPTY" { baseURL = "https://api.openai.com/v1" }

        var extra = JSONObject()
        if let g = r.tree.value(at: "llm.extra")?.objectValue { for (k, v) in g.pairs { extra[k] = v } }
        if let a = r.tree.value(at: "\(agentPath).extra")?.objectValue { for (k, v) in a.pairs { extra[k] = v } }

        var endpoints: [Endpoint] = []
        var routingPath = "llm.routing.endpoints"
        var routing = r.tree.value(at: routingPath)
        if let a = r.tree.value(at: "\(agentPath).routing.endpoints"), !a.isNull {
            routing = a; routingPath = "\(agentPath).routing.endpoints"
        }
        if let raw = env("ROUTING_ENDPOINTS_JSON") {
            guard let parsed = try? JSONCodec.parse(raw), parsed.arrayValue != nil else {
                throw DlgError.config("environment variable \(prefix)ROUTING_ENDPOINTS_JSON: expected a JSON list")
            }
            routing = parsed
        }
        if let list = routing?.arrayValue {
            for (i, item) in list.enumerated() {
                // Upstream ignores non-mapping entries (its sample `["http://localhost:1234"]` is a no-op);
                // a bare URL string is what a user means, so we accept it.
                var o = JSONObject()
                if let s = item.stringValue { o["base_url"] = .string(s) }
                else if let obj = item.objectValue { o = obj }
                else { throw r.fail("\(routingPath)[\(i)]", item, "a mapping with base_url, or a URL") }
                guard let url = o["base_url"]?.stringValue, !url.isEmpty else {
                    throw r.fail("\(routingPath)[\(i)].base_url", o["base_url"], "an http(s) URL")
                }
                var key = o["api_key"]?.stringValue ?? ""
                if key.isEmpty, let ke = o["api_key_env"]?.stringValue, !ke.isEmpty { key = envValue(ke, environment) ?? "" }
                if key.isEmpty { key = "EMPTY" }
                let weight = o["weight"]?.doubleValue ?? 1
                let maxInFlight = o["max_in_flight"]?.intValue ?? 64
                let t = o["timeout_s"]?.doubleValue ?? o["timeout"]?.doubleValue
                endpoints.append(Endpoint(
                    name: o["name"]?.stringValue ?? "endpoint-\(i)", baseURL: try checkURL(url, "\(routingPath)[\(i)].base_url", r),
                    apiKey: key, weight: max(weight, 1e-6), maxInFlight: maxInFlight, timeout: t,
                    model: o["model"]?.stringValue ?? ""))
            }
        }
        if endpoints.isEmpty, !baseURL.isEmpty {
            endpoints.append(Endpoint(name: "default", baseURL: try checkURL(baseURL, path("base_url"), r),
                                      apiKey: apiKey, weight: 1, maxInFlight: 0, timeout: nil, model: ""))
        }
        return AgentSettings(
            agent: agent, backend: backend, provider: provider, model: model, temperature: temperature,
            maxTokens: maxTokens, topP: topP, timeout: timeout ?? 120, maxRetries: maxRetries ?? 4, extra: extra,
            endpoints: endpoints)
    }

    static func envValue(_ name: String, _ env: [String: String]) -> String? {
        guard let v = env[name], !v.isEmpty else { return nil }
        return v
    }

    static func checkURL(_ url: String, _ path: String, _ r: ConfigReader) throws(DlgError) -> String {
        var u = url.trimmingCharacters(in: .whitespaces)
        guard u.hasPrefix("http://") || u.hasPrefix("https://") else {
            throw r.fail(path, .string(url), "an http:// or https:// URL")
        }
        while u.hasSuffix("/") { u.removeLast() }
        return u
    }
}
