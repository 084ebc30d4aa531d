import ArgumentParser
import DlgCore

/// Options every stage tool shares (and `dlg-export dataset`, which has always taken them).
public struct CommonOptions: ParsableArguments {
    @OptionGroup public var configOptions: ConfigOptions

    @OptionGroup public var concurrencyOptions: ConcurrencyOptions

    @Flag(name: .customLong(StageCommand.Flag.strict),
          help: "Stop at the first bad input line instead of reporting it and going on.")
    public var strict = false

    @Flag(name: .customLong(StageCommand.Flag.unordered),
          help: "Write each record as soon as it is done instead of in input order (dlg-run's loop streams dialogues through the stages this way).")
    public var unordered = false

    public init() {}

    /// The config file's path.
    public var config: String { configOptions.config }

    /// Loads the config; errors become exit codes through `ToolMain`.
    public func settings() throws -> Settings { try configOptions.settings() }
}
