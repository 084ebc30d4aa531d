import Foundation

/// Opens the stores the settings ask for: the file under the output folder, or PostgreSQL.
public enum StoreFactory {
    /// A connection to the configured database (nil when the run's state stays in files).
    public static func postgres(_ settings: Settings) throws(DlgError) -> PostgresStore? {
        let s = settings.store
        guard s.usesPostgres else { return nil }
        let conn = try PGConnection(dsn: s.dsn, statementTimeoutMs: s.statementTimeoutMs,
                                    retry: PGRetryPolicy(totalWait: s.reconnectTimeoutS))
        return try PostgresStore(connection: conn)
    }

    /// The run id a database store keys its rows by: the given one, else `run.resume_run_id`, else
    /// `run.run_id`; the file store needs none (its output folder is its scope).
    public static func runID(_ settings: Settings, given: String?) throws(DlgError) -> String {
        for id in [given ?? "", settings.run.resumeRunID, settings.run.runID] where !id.isEmpty { return id }
        throw DlgError(.usage, "\(settings.tree.file): store.backend: postgres keys its rows by run id: pass --run-id or set run.run_id")
    }

    /// The dedup store: `ledger` (a file) when given, else PostgreSQL when configured, else the
    /// output folder's `coverage_ledger.jsonl`.
    /// Its rejections go to `run_state/<run_id>/dedup_rejections.jsonl` (`DedupRejections`).
    /// `semantic`: semantic dedup with its embeddings (`SemanticDedup.configured`), nil: off.
    public static func dedupStore(_ settings: Settings, ledger: String?, runID: String?,
                                  semantic: SemanticDedup? = nil) throws(DlgError) -> DedupStore {
        let rejections = DedupRejectionLog(outputDir: settings.outputDir)
        if ledger == nil, let pg = try postgres(settings) {
            let store = try PostgresDedupStore(store: pg, runID: try Self.runID(settings, given: runID),
                                               nearThreshold: settings.coverage.nearDedupThreshold,
                                               against: settings.coverage.dedupAgainstRuns, semantic: semantic)
            store.rejectionLog = rejections
            return store
        }
        try checkFileStoreRuns(settings)
        let store = try FileDedupStore(path: ledger ?? settings.ledgerPath, nearThreshold: settings.coverage.nearDedupThreshold,
                                       semantic: semantic)
        store.rejectionLog = rejections
        return store
    }

    /// The file store's ledger holds every run made in its output folder, so each run's questions
    /// are checked against all of them already: `coverage.dedup_against_runs` there only has to name
    /// runs of that folder (`run_state/<id>/`), a typo being a config error (78).
    static func checkFileStoreRuns(_ settings: Settings) throws(DlgError) {
        guard case .runs(let ids) = settings.coverage.dedupAgainstRuns else { return }
        let runs = settings.layout.stateRoot
        for id in ids where !Files.isDirectory(try settings.layout.runDir(id)) {
            throw DlgError.config("\(settings.tree.location(of: "coverage.dedup_against_runs")): coverage.dedup_against_runs: run \"\(id)\" is not in \(runs)")
        }
    }
}
