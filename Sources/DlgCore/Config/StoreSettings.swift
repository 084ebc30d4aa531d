import Foundation

/// The `store` section: where a run's shared state lives (upstream's keys, plus ours:
/// `store.postgres.reconnect_timeout_s`).
public struct StoreSettings: Sendable {
    /// As configured: `file` or `postgres` (upstream's default is `postgres` with an empty DSN).
    public var backend: String
    /// The libpq connection string. Never printed: it may hold a password.
    public var dsn: String
    public var statementTimeoutMs: Int
    public var minPoolSize: Int
    public var maxPoolSize: Int
    /// Seconds a lost connection is retried before the stage stops with 69.
    public var reconnectTimeoutS: Double

    /// Postgres when the backend is `postgres` and there is a DSN; otherwise the files, as upstream
    /// (whose sample config says `postgres` with an empty DSN and touches no database outside
    /// distributed runs).
    public var usesPostgres: Bool { backend == "postgres" && !dsn.isEmpty }

    /// One line for the run's log when `postgres` is configured without a DSN.
    public var fileFallbackNote: String? {
        backend == "postgres" && dsn.isEmpty
            ? "store.backend is postgres but store.postgres.dsn is empty: the run's shared state stays in files (set store.postgres.dsn or POSTGRES_DSN to use the database)"
            : nil
    }

    /// The DSN: `store.postgres.dsn` (`POSTGRES_DSN` overrides it, `${VAR}` expanded); in a
    /// distributed run an empty one falls back to `DLGFORGE_POSTGRES_DSN`, as upstream's bootstrap.
    static func read(_ r: ConfigReader, distributed: Bool) throws(DlgError) -> StoreSettings {
        var dsn = try r.string("store.postgres.dsn").trimmingCharacters(in: .whitespacesAndNewlines)
        if dsn.isEmpty && distributed { dsn = r.tree.environment["DLGFORGE_POSTGRES_DSN"] ?? "" }
        let minPool = try r.int("store.postgres.min_pool_size", min: 0)
        let maxPool = try r.int("store.postgres.max_pool_size", min: 1)
        if minPool > maxPool {
            throw r.fail("store.postgres.min_pool_size", .int(minPool), "at most store.postgres.max_pool_size (\(maxPool))")
        }
        return StoreSettings(
            backend: try r.choice("store.backend", ["file", "postgres"]), dsn: dsn,
            statementTimeoutMs: try r.int("store.postgres.statement_timeout_ms", min: 0),
            minPoolSize: minPool, maxPoolSize: maxPool,
            reconnectTimeoutS: try r.double("store.postgres.reconnect_timeout_s", min: 0))
    }
}
