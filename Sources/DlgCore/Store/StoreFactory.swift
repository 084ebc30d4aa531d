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
    public static func dedupStore(_ settings: Settings, ledger: String?, runID: String?) throws(DlgError) -> DedupStore {
        let semantic = try semanticDedup(settings)
        if ledger == nil, let pg = try postgres(settings) {
            return try PostgresDedupStore(store: pg, runID: try Self.runID(settings, given: runID),
                                          nearThreshold: settings.coverage.nearDedupThreshold, semantic: semantic)
        }
        return try FileDedupStore(path: ledger ?? settings.ledgerPath, nearThreshold: settings.coverage.nearDedupThreshold,
                                  semantic: semantic)
    }

    /// `coverage.semantic_dedup_threshold` with the endpoint's embeddings (nil when off).
    public static func semanticDedup(_ settings: Settings) throws(DlgError) -> SemanticDedup? {
        guard settings.semanticDedup.enabled else { return nil }
        return SemanticDedup(threshold: settings.semanticDedup.threshold, embedder: try EndpointQuestionEmbedder(settings: settings))
    }
}
