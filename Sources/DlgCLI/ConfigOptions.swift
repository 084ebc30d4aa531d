import ArgumentParser
import DlgCore
import Foundation

/// The config file and the response cache switch: what every tool that loads the config takes.
public struct ConfigOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong(StageCommand.Flag.config)], help: "The dlgforge config file (YAML); paths in it are relative to its folder.")
    public var config: String = "config.yaml"

    @Flag(name: .customLong(StageCommand.Flag.noCache),
          help: "Neither read nor write the response cache (llm.cache.enabled: false; DLGFORGE_CACHE=0 does the same).")
    public var noCache = false

    public init() {}

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
