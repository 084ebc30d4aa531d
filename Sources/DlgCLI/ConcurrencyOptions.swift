import ArgumentParser
import DlgCore

/// `--concurrency`: how many records a stage works on at once. The default is one rule for every
/// stage tool (`StageConcurrency`).
public struct ConcurrencyOptions: ParsableArguments {
    @Option(name: .customLong(StageCommand.Flag.concurrency),
            help: "Records worked on at once (default: run.batch_size, at least \(StageConcurrency.llmFloor) for the LLM stages).")
    public var concurrency: Int?

    public init() {}

    public func validate() throws {
        if let c = concurrency, c < 1 { throw ValidationError("\"--concurrency\" must be at least 1") }
    }

    /// What a stage that calls an LLM works on at once under `settings`.
    public func forLLMStage(_ settings: Settings) -> Int {
        StageConcurrency.llmStage(given: concurrency, batchSize: settings.run.batchSize)
    }
}
