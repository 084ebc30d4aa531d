import Foundation

/// The run's batch record in PostgreSQL (batch mode with `store.backend: postgres`): the events of
/// `BatchRecord`, one row each, in the order written, so a run killed on one machine and started on
/// another finds its batches. A table of its own beside the store's (created on first use; the
/// store's schema version is untouched).
final class PostgresBatchEvents: @unchecked Sendable {
    let db: PGConnection
    let runID: String

    static let schemaSQL = """
        SELECT pg_advisory_xact_lock(4729032);
        CREATE TABLE IF NOT EXISTS dlgforge_batch_events (
            seq bigserial PRIMARY KEY,
            run_id text NOT NULL,
            event text NOT NULL,
            written_at timestamptz NOT NULL DEFAULT now());
        CREATE INDEX IF NOT EXISTS dlgforge_batch_events_run ON dlgforge_batch_events (run_id, seq);
        """

    init(dsn: String, runID: String) throws(DlgError) {
        db = try PGConnection(dsn: dsn)
        self.runID = runID
        try db.script(Self.schemaSQL)
    }

    func append(_ line: [UInt8]) throws(DlgError) {
        try db.query("INSERT INTO dlgforge_batch_events (run_id, event) VALUES ($1, $2)",
                     [.text(runID), .text(String(decoding: line, as: UTF8.self))])
    }

    /// The run's events, oldest first.
    func lines() throws(DlgError) -> [[UInt8]] {
        let rows = try db.query("SELECT event FROM dlgforge_batch_events WHERE run_id = $1 ORDER BY seq", [.text(runID)])
        return (0..<rows.count).compactMap { rows[$0, 0].map { Array($0.utf8) } }
    }
}
