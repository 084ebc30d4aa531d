// dlg-dedup: the dedup stage against the run's store.
// The root command of `dlg-dedup` (or `dlg dedup`), run by the multicall binary Sources/dlg.

import ArgumentParser
import DlgCLI
import DlgCore

/// `dlg-dedup`: rejects duplicate pending questions across the run.
public struct DlgDedup: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-dedup",
        abstract: "Reject duplicate pending questions (normalized exact match, and near duplicates with coverage.near_dedup_threshold) across the whole run.",
        discussion: """
        stdin: dialogue records (JSONL). stdout: the same records in the same order; each pending question is \
        marked accepted or rejected. Accepted questions are committed to the store, the run's \
        coverage_ledger.jsonl, or the database with store.backend: postgres and a DSN, so dedup holds across \
        passes, waves and processes. A question already accepted for the same conversation and turn is \
        accepted again (reruns are idempotent). With coverage.near_dedup_threshold above 0, a question whose \
        word set is at least that similar (Jaccard) to an accepted one's is rejected too, logged as near_duplicate.
        """)

    public init() {}

    @OptionGroup var common: CommonOptions

    @Option(help: "The dedup store file (default: <saving.output_dir>/coverage_ledger.jsonl, or the database with store.backend: postgres and a DSN).")
    var ledger: String?

    @Option(help: "The run whose questions the database store checks against (default: run.resume_run_id, then run.run_id; the file store needs none).")
    var runID: String?

    public func run() async throws {
        try await ToolMain.run("dlg-dedup") {
            let settings = try common.settings()
            let store = try StoreFactory.dedupStore(settings, ledger: ledger, runID: runID,
                                                     semantic: try SemanticDedup.configured(settings))
            let log = DlgLog.logger("dlg.dedup", logsDir: settings.logsDir, file: RunLayout.runLog)
            let stage = DedupStage(store: store, log: log)
            // In batches: one store round trip decides every record read meanwhile, in input order.
            let summary = try DedupBatchRunner.run(stage, input: LineReader(), output: FDWriter(), strict: common.strict) {
                StandardError.write("dlg-dedup: error: \($0)")
            }
            if let pg = store as? PostgresDedupStore, pg.store.db.reconnects > 0 {
                log.notice("postgres at \(pg.store.db.location): connection lost and re-established \(pg.store.db.reconnects) time(s); statements were run again")
            }
            // Records whose question could not be decided were passed on pending; say so in the status.
            var outcome = StageOutcome(badLines: summary.badLines)
            outcome.storeFailure = stage.storeFailure
            outcome.undecided = stage.storeFailures
            return ToolMain.end("dlg-dedup", outcome)
        }
    }
}
