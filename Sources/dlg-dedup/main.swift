import ArgumentParser
import DlgCLI
import DlgCore

@main
struct DlgDedup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg-dedup",
        abstract: "Reject duplicate pending questions (normalized exact match) across the whole run.",
        discussion: """
        stdin: dialogue records (JSONL). stdout: the same records in the same order; each pending question is \
        marked accepted or rejected. Accepted questions are committed to the store, the run's \
        coverage_ledger.jsonl, so dedup holds across passes, waves and processes. A question already accepted \
        for the same conversation and turn is accepted again (reruns are idempotent).
        """)

    @OptionGroup var common: CommonOptions

    @Option(help: "The dedup store file (default: <saving.output_dir>/coverage_ledger.jsonl).")
    var ledger: String?

    func run() async throws {
        try await ToolMain.run("dlg-dedup") {
            let settings = try common.settings()
            let store = try FileDedupStore(path: ledger ?? settings.ledgerPath)
            let log = DlgLog.logger("dlg.dedup", logsDir: settings.logsDir, file: "run.log")
            let stage = DedupStage(store: store, log: log)
            let (status, _) = try await ToolMain.runStage("dlg-dedup", stage: stage, concurrency: 1,
                                                          options: common, client: nil)
            // Records whose question could not be decided were passed on pending; say so in the status.
            if let problem = stage.storeError {
                StandardError.write("dlg-dedup: error: \(problem) (\(stage.storeFailures) record(s) passed on undecided)")
                return DlgError.Code.io.rawValue
            }
            return status
        }
    }
}
