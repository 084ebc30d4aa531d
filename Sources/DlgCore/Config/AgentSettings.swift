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
    /// `rate_limit` of its `llm.routing.endpoints` entry (requests and tokens per minute).
    public var rateLimit = LLMLayerSettings.RateLimit()
    /// From `llm.routing.endpoints` (the servers vllm_attach needs), not the agent's own base_url.
    public var routed = false
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
    /// Why this agent cannot be called (an unknown provider, a key mapping naming an empty variable);
    /// reported by `Settings.requireAgent` only when a stage needs the agent.
    public var unusable: String? = nil
    /// Warnings about where this agent's keys go (plain http to a public host; OPENAI_API_KEY held back),
    /// printed once by the tool (`Settings.keyWarnings`).
    public var keyNotes: [String] = []

    /// Upstream's "agent used name": `provider/model` when the model has no "/".
    public var usedName: String {
        if !provider.isEmpty && !model.contains("/") { return "\(provider)/\(model)" }
        return model
    }

    static let envKeys = ["BACKEND", "PROVIDER", "MODEL", "BASE_URL", "API_KEY", "API_KEY_ENV", "TEMPERATURE",
                          "MAX_TOKENS", "TOP_P", "TIMEOUT", "MAX_RETRIES"]

    static func resolve(_ agent: AgentName, reader r: ConfigReader) throws(DlgError) -> AgentSettings {
        let environment = r.tree.environment
        let s = AgentSource(agent: agent, reader: r)
        let agentPath = s.agentPath, prefix = s.prefix, rolePrefix = s.rolePrefix
        if let v = r.tree.value(at: agentPath), !v.isNull, v.objectValue == nil {
            throw r.fail(agentPath, v, "a mapping of llm settings")
        }
        let path = s.path
        let backend = try s.string("backend", env: "BACKEND")
        let provider = try s.string("provider", env: "PROVIDER")
        var model = try s.string("model", env: "MODEL")
        var baseURL = try s.string("base_url", env: "BASE_URL")
        var apiKey = try s.string("api_key", env: "API_KEY")
        var apiKeyEnv = try r.string(path("api_key_env"))
        // The key mapping variables: the role's name wins over the agent's (upstream's newer rule).
        var mappingVariable: String? = nil
        for name in [rolePrefix + "API_KEY_ENV", prefix + "API_KEY_ENV", "LLM_API_KEY_ENV"] {
            if let v = envValue(name, environment) { apiKeyEnv = v; mappingVariable = name; break }
        }
        let sampling = try s.sampling()

        var unusable: String? = nil
        if apiKey.isEmpty, !apiKeyEnv.isEmpty {
            apiKey = envValue(apiKeyEnv, environment) ?? ""
            if apiKey.isEmpty, let mappingVariable {
                // Named, never shown: the value would be the secret.
                unusable = "environment variable \(mappingVariable) names \(apiKeyEnv), which is empty or unset; set \(apiKeyEnv) to \(agent.rawValue)'s API key"
            }
        }
        // A key the user gave for this agent (not the OPENAI_API_KEY fallback): routed endpoints without
        // their own key use it.
        let agentKey = apiKey
        // Providers by name: only when no base_url is given.
        let (hosted, providerProblem) = baseURL.isEmpty
            ? namedProvider(agent, provider: provider, providerPath: path("provider"), model: &model, baseURL: &baseURL,
                            apiKey: &apiKey, reader: r)
            : (nil, nil)
        let notes = openAIFallbacks(hosted: hosted, baseURLPath: path("base_url"), keyEnvPath: path("api_key_env"),
                                    baseURL: &baseURL, model: &model, apiKey: &apiKey, environment)

        var extra = JSONObject()
        if let g = r.tree.value(at: "llm.extra")?.objectValue { for (k, v) in g.pairs { extra[k] = v } }
        if let a = r.tree.value(at: "\(agentPath).extra")?.objectValue { for (k, v) in a.pairs { extra[k] = v } }

        var endpoints = try routedEndpoints(agentPath: agentPath, json: s.env("ROUTING_ENDPOINTS_JSON"),
                                            jsonVariable: "\(prefix)ROUTING_ENDPOINTS_JSON", agentKey: agentKey, reader: r)
        // The provider's endpoint matters only when no routed endpoints replace it.
        if endpoints.isEmpty, unusable == nil { unusable = providerProblem }
        if endpoints.isEmpty, !baseURL.isEmpty {
            endpoints.append(Endpoint(name: "default", baseURL: try checkURL(baseURL, path("base_url"), r),
                                      apiKey: apiKey, weight: 1, maxInFlight: 0, timeout: nil, model: ""))
        }
        var settings = AgentSettings(
            agent: agent, backend: backend, provider: provider, model: model, temperature: sampling.temperature,
            maxTokens: sampling.maxTokens, topP: sampling.topP, timeout: sampling.timeout ?? 120,
            maxRetries: sampling.maxRetries ?? 4, extra: extra,
            endpoints: endpoints, unusable: unusable)
        settings.keyNotes = notes + Self.registerKeys(endpoints, environment)
        return settings
    }

    /// What an agent without its own URL, model or key falls back on: OPENAI_API_KEY (only where it pairs
    /// with the URL), OPENAI_BASE_URL, LLM_MODEL or OPENAI_MODEL, "EMPTY", OpenAI's URL. Returns the notes
    /// on a key held back.
    private static func openAIFallbacks(hosted: Provider?, baseURLPath: String, keyEnvPath: String,
                                        baseURL: inout String, model: inout String, apiKey: inout String,
                                        _ environment: [String: String]) -> [String] {
        var notes: [String] = []
        if apiKey.isEmpty, hosted == nil || hosted?.name == "openai" {
            // OPENAI_API_KEY goes with OPENAI_BASE_URL (or OpenAI itself), as upstream pairs them; never to
            // a base_url the config or another variable names, unless the config names the key for it.
            if let key = envValue("OPENAI_API_KEY", environment) {
                if Self.pairsWithOpenAIKey(baseURL: baseURL, environment) { apiKey = key }
                else if let peer = PeerURL(baseURL) {
                    notes.append("OPENAI_API_KEY is not sent to \(peer.origin) (\(baseURLPath)): it goes with OPENAI_BASE_URL or OpenAI only; to send it there, set \(keyEnvPath): OPENAI_API_KEY")
                }
            }
        }
        if baseURL.isEmpty { baseURL = envValue("OPENAI_BASE_URL", environment) ?? "" }
        if model.isEmpty { model = envValue("LLM_MODEL", environment) ?? envValue("OPENAI_MODEL", environment) ?? "" }
        if apiKey.isEmpty, !baseURL.isEmpty { apiKey = "EMPTY" }
        if baseURL.isEmpty, !apiKey.isEmpty, apiKey != "EMPTY" { baseURL = "https://api.openai.com/v1" }
        return notes
    }

    /// The provider named by `provider` (or the model's prefix), for an agent with no base_url: its URL
    /// and the model name it takes, and its key from its variables when none is given. The provider, and
    /// why the agent cannot use it (nil when it can).
    private static func namedProvider(_ agent: AgentName, provider: String, providerPath: String, model: inout String,
                                      baseURL: inout String, apiKey: inout String,
                                      reader r: ConfigReader) -> (Provider?, String?) {
        let environment = r.tree.environment
        let agentPath = "llm.agents.\(agent.rawValue)"
        let rolePrefix = "LLM_" + agent.role.uppercased() + "_"
        var providerProblem: String? = nil
        var hosted: Provider? = nil
        let openAIBase = envValue("OPENAI_BASE_URL", environment)
        switch Providers.choose(provider: provider, model: model) {
        case .none:
            break
        case .known(let p, let sent):
            if p.name == "openai", openAIBase != nil { break }
            guard let url = p.baseURL else {
                providerProblem = "\(r.tree.location(of: providerPath)): \(providerPath): provider \(p.name) has no fixed endpoint; set \(agentPath).base_url (or \(rolePrefix)BASE_URL) to its OpenAI-compatible URL"
                break
            }
            baseURL = url; model = sent; hosted = p
            if apiKey.isEmpty {
                apiKey = p.keyVariables.lazy.compactMap { envValue($0, environment) }.first ?? ""
                if apiKey.isEmpty {
                    providerProblem = "no API key for \(agent.rawValue) (provider \(p.name)): set \(p.keyVariables[0]), or \(rolePrefix)API_KEY_ENV to the variable holding it"
                }
            }
        case .unknown(let name):
            providerProblem = "\(r.tree.location(of: providerPath)): \(providerPath): unknown provider \"\(name)\"; set \(agentPath).base_url (or \(rolePrefix)BASE_URL) to its OpenAI-compatible URL, or use one of " + Providers.table.map(\.name).joined(separator: ", ")
        }
        return (hosted, providerProblem)
    }

    /// The agent's routed endpoints (`llm.routing.endpoints`, the agent's own list, or `json` from
    /// `jsonVariable`, which wins); empty when none are given. An endpoint without a key of its own uses
    /// `agentKey`.
    private static func routedEndpoints(agentPath: String, json: String?, jsonVariable: String, agentKey: String,
                                        reader r: ConfigReader) throws(DlgError) -> [Endpoint] {
        let environment = r.tree.environment
        var routingPath = "llm.routing.endpoints"
        var routing = r.tree.value(at: routingPath)
        if let a = r.tree.value(at: "\(agentPath).routing.endpoints"), !a.isNull {
            routing = a; routingPath = "\(agentPath).routing.endpoints"
        }
        if let raw = json {
            guard let parsed = try? JSONCodec.parse(raw), parsed.arrayValue != nil else {
                throw DlgError.config("environment variable \(jsonVariable): expected a JSON list")
            }
            routing = parsed
        }
        var endpoints: [Endpoint] = []
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
                // Without a key of its own, an endpoint uses the agent's (a fleet sharing one key); "EMPTY"
                // (upstream's placeholder) only when the agent has none either.
                if key.isEmpty { key = agentKey.isEmpty ? "EMPTY" : agentKey }
                let weight = o["weight"]?.doubleValue ?? 1
                let maxInFlight = o["max_in_flight"]?.intValue ?? 64
                let t = o["timeout_s"]?.doubleValue ?? o["timeout"]?.doubleValue
                var endpoint = Endpoint(
                    name: o["name"]?.stringValue ?? "endpoint-\(i)",
                    baseURL: withAPIPath(try checkURL(url, "\(routingPath)[\(i)].base_url", r)),
                    apiKey: key, weight: max(weight, 1e-6), maxInFlight: maxInFlight, timeout: t,
                    model: o["model"]?.stringValue ?? "", routed: true)
                endpoint.rateLimit = try routedRateLimit(o, "\(routingPath)[\(i)]", r)
                endpoints.append(endpoint)
            }
        }
        return endpoints
    }

    /// Whether the implicit OPENAI_API_KEY may go to `baseURL`: none given yet (then it is OPENAI_BASE_URL
    /// or OpenAI's), or the same as OPENAI_BASE_URL.
    static func pairsWithOpenAIKey(baseURL: String, _ environment: [String: String]) -> Bool {
        if baseURL.isEmpty { return true }
        func normal(_ u: String) -> String { var u = u.trimmingCharacters(in: .whitespaces); while u.hasSuffix("/") { u.removeLast() }; return u }
        if let paired = envValue("OPENAI_BASE_URL", environment), normal(paired) == normal(baseURL) { return true }
        return normal(baseURL) == "https://api.openai.com/v1"
    }

    /// Registers every key these endpoints send (and every provider key variable that is set) with
    /// `Redact`, and returns a warning for each key that would cross a public network in clear text.
    static func registerKeys(_ endpoints: [Endpoint], _ environment: [String: String]) -> [String] {
        Redact.register(variables: Providers.table.flatMap(\.keyVariables) + ["OPENAI_API_KEY"], in: environment)
        var warnings: [String] = []
        for e in endpoints where !e.apiKey.isEmpty && e.apiKey != "EMPTY" {
            Redact.register(e.apiKey)
            if let peer = PeerURL(e.baseURL), !peer.isHTTPS, !peer.isPrivate {
                warnings.append("an API key is sent over plain http to \(peer.origin) (endpoint \(e.name)), a host that is neither this machine nor a private network: anyone on the way can read it; use https")
            }
        }
        return warnings
    }

    /// An endpoint entry's `rate_limit` (`requests_per_minute`, `tokens_per_minute`: positive integers).
    static func routedRateLimit(_ o: JSONObject, _ path: String, _ r: ConfigReader) throws(DlgError) -> LLMLayerSettings.RateLimit {
        guard let v = o["rate_limit"], !v.isNull else { return LLMLayerSettings.RateLimit() }
        guard let m = v.objectValue else {
            throw r.fail("\(path).rate_limit", v, "a mapping with requests_per_minute and tokens_per_minute")
        }
        var l = LLMLayerSettings.RateLimit()
        for (key, value) in m.pairs {
            guard key == "requests_per_minute" || key == "tokens_per_minute" else {
                throw r.fail("\(path).rate_limit.\(key)", value, "requests_per_minute or tokens_per_minute")
            }
            if value.isNull { continue }
            guard let n = value.intValue ?? value.doubleValue.flatMap({ Int(exactly: $0) }), n >= 1 else {
                throw r.fail("\(path).rate_limit.\(key)", value, "an integer >= 1")
            }
            if key == "requests_per_minute" { l.requestsPerMinute = n } else { l.tokensPerMinute = n }
        }
        return l
    }

    static func envValue(_ name: String, _ env: [String: String]) -> String? {
        guard let v = env[name], !v.isEmpty else { return nil }
        return v
    }

    /// A routed server given as `http://host:port` (upstream's sample writes them so) serves the API
    /// under /v1: upstream's health check adds it, and so do we, for the check and for the calls.
    static func withAPIPath(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        return url[scheme.upperBound...].contains("/") ? url : url + "/v1"
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

/// Where one agent's settings come from: `llm.agents.<agent>.<key>` where it is not null, else
/// `llm.<key>`; then the environment, `LLM_<AGENT>_<KEY>` (upstream's order), `LLM_<ROLE>_<KEY>` (the
/// newer layout's role name), `LLM_<KEY>`.
struct AgentSource {
    let reader: ConfigReader
    let agentPath: String
    let prefix: String
    let rolePrefix: String

    init(agent: AgentName, reader: ConfigReader) {
        self.reader = reader
        agentPath = "llm.agents.\(agent.rawValue)"
        prefix = "LLM_" + agent.rawValue.uppercased() + "_"
        rolePrefix = "LLM_" + agent.role.uppercased() + "_"
    }

    /// The config path a value comes from (for messages too).
    func path(_ key: String) -> String {
        if let v = reader.tree.value(at: "\(agentPath).\(key)"), !v.isNull { return "\(agentPath).\(key)" }
        return "llm.\(key)"
    }

    func env(_ key: String) -> String? {
        let environment = reader.tree.environment
        if let v = AgentSettings.envValue(prefix + key, environment) { return v }
        if let v = AgentSettings.envValue(rolePrefix + key, environment) { return v }
        return AgentSettings.envValue("LLM_" + key, environment)
    }

    func envNumber(_ key: String) throws(DlgError) -> Double? {
        guard let raw = env(key) else { return nil }
        guard let d = Double(raw) else {
            throw DlgError.config("environment variable \(prefix)\(key) or LLM_\(key): expected a number, got \"\(raw)\"")
        }
        return d
    }

    /// The config's string, replaced by the environment's when it names one.
    func string(_ key: String, env envKey: String) throws(DlgError) -> String {
        let configured = try reader.string(path(key))
        return env(envKey) ?? configured
    }

    struct Sampling {
        var temperature: Double?
        var maxTokens: Int?
        var topP: Double?
        var timeout: Double?
        var maxRetries: Int?
    }

    /// Temperature, max tokens, top_p, timeout and retries, the environment's winning, checked.
    func sampling() throws(DlgError) -> Sampling {
        let r = reader
        var s = Sampling()
        s.temperature = try r.optionalDouble(path("temperature"))
        if let e = try envNumber("TEMPERATURE") { s.temperature = e }
        s.maxTokens = try r.optionalInt(path("max_tokens"), min: 1)
        if let e = try envNumber("MAX_TOKENS") { s.maxTokens = Int(e) }
        s.topP = try r.optionalDouble(path("top_p"))
        if let e = try envNumber("TOP_P") { s.topP = e }
        s.timeout = try r.optionalDouble(path("timeout"))
        if let e = try envNumber("TIMEOUT") { s.timeout = e }
        s.maxRetries = try r.optionalInt(path("max_retries"), min: 0)
        if let e = try envNumber("MAX_RETRIES") { s.maxRetries = Int(e) }
        if let t = s.temperature, t < 0 || t > 2 { throw r.fail(path("temperature"), .double(t), "a number from 0 to 2") }
        if let t = s.timeout, t <= 0 { throw r.fail(path("timeout"), .double(t), "a positive number of seconds") }
        return s
    }
}
