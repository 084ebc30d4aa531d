import Foundation

/// How a stage tool is started: its name and the flags the stages share. The tools declare their
/// options with these names (DlgCLI's `CommonOptions` and dlg-judge's flags) and dlg-run spawns them
/// with `arguments`, so the tool and the run that starts it cannot drift apart.
public struct StageCommand: Sendable, Equatable {
    /// The stage tools, in loop order.
    public enum Tool: String, Sendable, CaseIterable {
        case gen = "dlg-gen"
        case dedup = "dlg-dedup"
        case respond = "dlg-respond"
        case judge = "dlg-judge"
    }

    /// Long flag names (without the dashes).
    public enum Flag {
        public static let config = "config"
        public static let concurrency = "concurrency"
        public static let strict = "strict"
        public static let unordered = "unordered"
        /// Neither read nor write the response cache (llm.cache.enabled: false).
        public static let noCache = "no-cache"
        /// dlg-judge: judge even when judge.mode is offline.
        public static let offline = "offline"
        /// dlg-judge: judge again what already has a verdict.
        public static let force = "force"
        /// dlg-dedup: the run a database store keys its rows by.
        public static let runID = "run-id"
    }

    public var tool: Tool
    public var config: String
    public var concurrency: Int?
    public var unordered = false
    public var strict = false
    /// Run without the response cache.
    public var noCache = false
    /// dlg-judge only.
    public var offline = false
    /// dlg-judge only.
    public var force = false
    /// dlg-dedup only, with a database store.
    public var runID: String?

    public init(_ tool: Tool, config: String, concurrency: Int? = nil, unordered: Bool = false,
                strict: Bool = false, offline: Bool = false, force: Bool = false) {
        self.tool = tool
        self.config = config
        self.concurrency = concurrency
        self.unordered = unordered
        self.strict = strict
        self.offline = offline
        self.force = force
    }

    /// The command line: the tool's path in `toolsDir`, then its flags.
    public func arguments(toolsDir: String) -> [String] {
        var args = [(toolsDir as NSString).appendingPathComponent(tool.rawValue), "--\(Flag.config)", config]
        if unordered { args.append("--\(Flag.unordered)") }
        if let concurrency { args += ["--\(Flag.concurrency)", String(concurrency)] }
        if strict { args.append("--\(Flag.strict)") }
        if noCache { args.append("--\(Flag.noCache)") }
        if offline { args.append("--\(Flag.offline)") }
        if force { args.append("--\(Flag.force)") }
        if let runID { args += ["--\(Flag.runID)", runID] }
        return args
    }

    /// The run's loop: every stage unordered (a record leaves a stage the moment it is done) with room
    /// for every dialogue in flight; `noCache` when the run has the response cache off.
    public static func loop(config: String, inFlight: Int, noCache: Bool = false) -> [StageCommand] {
        Tool.allCases.map {
            var c = StageCommand($0, config: config, concurrency: inFlight, unordered: true)
            c.noCache = noCache
            return c
        }
    }

    /// The judge-only pass: every finished dialogue judged again, whatever judge.mode says.
    public static func judgeAgain(config: String) -> StageCommand {
        StageCommand(.judge, config: config, offline: true, force: true)
    }
}
