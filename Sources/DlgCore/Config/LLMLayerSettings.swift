import Foundation

/// Keys of ours for the LLM layer of long runs (upstream has none): when to stop on an error storm
/// (`llm.error_storm.*`), the response cache (`llm.cache.*`), rate limits (`llm.rate_limit.*`, also per
/// routed endpoint) and adaptive concurrency (`llm.adaptive_concurrency.*`). Read as given, with the
/// defaults below.
public struct LLMLayerSettings: Sendable, Equatable {
    /// Stop a stage when too many of its recent HTTP calls failed.
    public struct ErrorStormSettings: Sendable, Equatable {
        /// `llm.error_storm.enabled` (default true).
        public var enabled = true
        /// `llm.error_storm.window`: how many of the latest calls are looked at (default 50).
        public var window = 50
        /// `llm.error_storm.max_failure_rate`: the share of failed calls in the window above which the
        /// stage stops (default 0.5).
        public var maxFailureRate = 0.5
        /// `llm.error_storm.min_calls`: calls the window must hold before it can trip (default 20).
        public var minCalls = 20
        public init() {}
    }

    /// The response cache.
    public struct Cache: Sendable, Equatable {
        /// `llm.cache.enabled` (default true); `--no-cache` and `DLGFORGE_CACHE=0` turn it off.
        public var enabled = true
        /// `llm.cache.path` (default: `llm_cache.sqlite` in the output folder); resolved.
        public var path = ""
        public init() {}
    }

    /// Requests and tokens per minute, for the whole run (`llm.rate_limit.*`) or one routed endpoint
    /// (`llm.routing.endpoints[i].rate_limit.*`); nil for no limit. Tokens are the request's estimated
    /// prompt tokens plus `max_tokens`, corrected with the reply's usage.
    public struct RateLimit: Sendable, Equatable {
        /// `requests_per_minute`.
        public var requestsPerMinute: Int?
        /// `tokens_per_minute`.
        public var tokensPerMinute: Int?
        public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil) {
            self.requestsPerMinute = requestsPerMinute
            self.tokensPerMinute = tokensPerMinute
        }
        public var isSet: Bool { requestsPerMinute != nil || tokensPerMinute != nil }

        /// Reads `<path>.requests_per_minute` and `<path>.tokens_per_minute` (positive integers).
        static func read(_ r: ConfigReader, _ path: String) throws(DlgError) -> RateLimit {
            var l = RateLimit()
            if let v = r.tree.value(at: path), !v.isNull, v.objectValue == nil {
                throw r.fail(path, v, "a mapping with requests_per_minute and tokens_per_minute")
            }
            l.requestsPerMinute = try r.optionalInt("\(path).requests_per_minute", min: 1)
            l.tokensPerMinute = try r.optionalInt("\(path).tokens_per_minute", min: 1)
            return l
        }
    }

    /// Per-endpoint AIMD on the number of requests in flight, bounded by the endpoint's `max_in_flight`.
    public struct AdaptiveConcurrency: Sendable, Equatable {
        /// `llm.adaptive_concurrency.enabled` (default: true for `llm.backend` vllm_attach and
        /// vllm_managed, false for openai).
        public var enabled = false
        /// `llm.adaptive_concurrency.min` (default 1): the limit never goes below it.
        public var min = 1
        /// `llm.adaptive_concurrency.initial` (default 8, at most `max_in_flight`): where the limit starts.
        public var initial = 8
        public init() {}
    }

    public var errorStorm = ErrorStormSettings()
    public var cache = Cache()
    /// `llm.rate_limit.*`: one limit over every request of the run.
    public var rateLimit = RateLimit()
    public var adaptive = AdaptiveConcurrency()
    /// `llm.max_response_bytes` (default 16 MiB): the most a chat, embeddings or `/models` reply may hold;
    /// a bigger one is stopped there and the request fails (not retried).
    public var maxResponseBytes = LLMLayerSettings.defaultMaxResponseBytes
    public static let defaultMaxResponseBytes = CurlTransport.defaultMaxResponseBytes
    /// The run's limits broker (`DLGFORGE_LIMITS_SOCKET`, set by dlg-run for its stages): when set, the
    /// limits are the run's, shared with the other stages; else this process keeps its own.
    public var limitsSocket: String?
    /// `llm.batch_api.*`: the provider's batch API instead of one request at a time.
    public var batch = BatchAPISettings()
    public init() {}

    /// The variable dlg-run sets for its stages: the path of its limits broker's socket.
    public static let limitsSocketVariable = "DLGFORGE_LIMITS_SOCKET"

    static func read(_ r: ConfigReader) throws(DlgError) -> LLMLayerSettings {
        var s = LLMLayerSettings()
        func has(_ p: String) -> Bool { r.tree.value(at: p).map { !$0.isNull } ?? false }
        let e = "llm.error_storm"
        if let v = r.tree.value(at: e), !v.isNull, v.objectValue == nil {
            throw r.fail(e, v, "a mapping with enabled, window, max_failure_rate and min_calls")
        }
        if has("\(e).enabled") { s.errorStorm.enabled = try r.bool("\(e).enabled") }
        if has("\(e).window") { s.errorStorm.window = try r.int("\(e).window", min: 1) }
        if has("\(e).max_failure_rate") { s.errorStorm.maxFailureRate = try r.double("\(e).max_failure_rate", min: 0, max: 1) }
        if has("\(e).min_calls") { s.errorStorm.minCalls = try r.int("\(e).min_calls", min: 1) }
        let c = "llm.cache"
        if let v = r.tree.value(at: c), !v.isNull, v.objectValue == nil {
            throw r.fail(c, v, "a mapping with enabled and path")
        }
        if has("\(c).enabled") { s.cache.enabled = try r.bool("\(c).enabled") }
        let outputDir = r.tree.resolvePath(try r.string("saving.output_dir"))
        s.cache.path = (outputDir as NSString).appendingPathComponent("llm_cache.sqlite")
        if has("\(c).path") {
            let path = try r.string("\(c).path")
            if !path.isEmpty { s.cache.path = r.tree.resolvePath(path) }
        }
        s.rateLimit = try RateLimit.read(r, "llm.rate_limit")
        if has("llm.max_response_bytes") { s.maxResponseBytes = try r.int("llm.max_response_bytes", min: 1024) }
        let a = "llm.adaptive_concurrency"
        if let v = r.tree.value(at: a), !v.isNull, v.objectValue == nil {
            throw r.fail(a, v, "a mapping with enabled, min and initial")
        }
        let backend = try r.string("llm.backend")
        s.adaptive.enabled = backend == "vllm_attach" || backend == "vllm_managed"
        if has("\(a).enabled") { s.adaptive.enabled = try r.bool("\(a).enabled") }
        if has("\(a).min") { s.adaptive.min = try r.int("\(a).min", min: 1) }
        if has("\(a).initial") { s.adaptive.initial = try r.int("\(a).initial", min: 1) }
        if s.adaptive.initial < s.adaptive.min { s.adaptive.initial = s.adaptive.min }
        s.batch = try BatchAPISettings.read(r)
        if let socket = r.tree.environment[limitsSocketVariable], !socket.isEmpty { s.limitsSocket = socket }
        if let env = r.tree.environment["DLGFORGE_CACHE"], ["0", "false", "no", "off"].contains(env.lowercased()) {
            s.cache.enabled = false
        }
        return s
    }
}
