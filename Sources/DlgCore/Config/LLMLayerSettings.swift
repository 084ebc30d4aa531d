import Foundation

/// Keys of ours for the LLM layer of long runs (upstream has none): when to stop on an error storm
/// (`llm.error_storm.*`) and the response cache (`llm.cache.*`). Read as given, with the defaults below.
public struct LLMLayerSettings: Sendable, Equatable {
    /// Stop a stage when too many of its recent HTTP calls failed.
    public struct ErrorStorm: Sendable, Equatable {
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

    public var errorStorm = ErrorStorm()
    public var cache = Cache()
    public init() {}

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
        if let env = r.tree.environment["DLGFORGE_CACHE"], ["0", "false", "no", "off"].contains(env.lowercased()) {
            s.cache.enabled = false
        }
        return s
    }
}
