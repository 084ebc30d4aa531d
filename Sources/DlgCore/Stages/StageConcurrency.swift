/// How many records a stage tool works on at once: the one rule behind `--concurrency` for dlg-gen,
/// dlg-respond and dlg-judge (dlg-run passes `run.batch_size` to its stages explicitly).
public enum StageConcurrency {
    /// The least a stage that calls an LLM works on at once: its records wait on the network, not on
    /// the CPU, so a small `run.batch_size` should not leave a stage run by hand calling one at a time.
    public static let llmFloor = 64

    /// `given` (the tool's `--concurrency`), else `run.batch_size` raised to `llmFloor`.
    public static func llmStage(given: Int?, batchSize: Int) -> Int {
        given ?? max(llmFloor, batchSize)
    }
}
