import ArgumentParser
import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Options every stage tool shares.
public struct CommonOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong(StageCommand.Flag.config)], help: "The dlgforge config file (YAML); paths in it are relative to its folder.")
    public var config: String = "config.yaml"

    @Option(name: .customLong(StageCommand.Flag.concurrency),
            help: "Records worked on at once (default: run.batch_size, at least 64 for the LLM stages).")
    public var concurrency: Int?

    @Flag(name: .customLong(StageCommand.Flag.strict),
          help: "Stop at the first bad input line instead of reporting it and going on.")
    public var strict = false

    @Flag(name: .customLong(StageCommand.Flag.unordered),
          help: "Write each record as soon as it is done instead of in input order (dlg-run's loop streams dialogues through the stages this way).")
    public var unordered = false

    @Flag(name: .customLong(StageCommand.Flag.noCache),
          help: "Neither read nor write the response cache (llm.cache.enabled: false; DLGFORGE_CACHE=0 does the same).")
    public var noCache = false

    public init() {}

    public func validate() throws {
        if let c = concurrency, c < 1 { throw ValidationError("\"--concurrency\" must be at least 1") }
    }

    /// Loads the config; errors become exit codes through `ToolMain`.
    public func settings() throws -> Settings {
        var s = try Settings.load(path: config)
        if noCache { s.llmLayer.cache.enabled = false }
        // Once per tool the user started: the stages dlg-run starts (DLG_PROGRESS=0) leave it to dlg-run.
        if ProcessInfo.processInfo.environment["DLG_PROGRESS"] != "0" {
            let tool = (CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }) ?? "dlg"
            for w in s.keyWarnings { StandardError.write("\(tool): warning: \(w)") }
        }
        return s
    }
}
