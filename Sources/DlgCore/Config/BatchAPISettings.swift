import Foundation

/// `llm.batch_api` (ours; upstream has none): the run's chat requests go through the provider's batch
/// API (`/v1/files` + `/v1/batches`, answered within a 24-hour window at about half the price) instead
/// of one by one. The limits default to OpenAI's published ones for a batch input file (50,000
/// requests, 200 MB). `DLGFORGE_BATCH_API=1` turns it on whatever the file says.
public struct BatchAPISettings: Sendable, Equatable {
    /// `llm.batch_api.enabled` (default false).
    public var enabled = false
    /// `llm.batch_api.flush_seconds` (default 30): a file of pending requests is sent once this long has
    /// passed without a new request (or sooner when a limit is reached).
    public var flushSeconds = 30.0
    /// `llm.batch_api.poll_seconds` (default 60): how often a batch in flight is asked where it stands.
    public var pollSeconds = 60.0
    /// `llm.batch_api.max_requests_per_file` (default 50,000, OpenAI's limit).
    public var maxRequestsPerFile = 50_000
    /// `llm.batch_api.max_bytes_per_file` (default 200 MB, OpenAI's limit).
    public var maxBytesPerFile = 200_000_000
    /// `llm.batch_api.retry_direct` (default false): a request that failed in a batch (an error line, an
    /// expired request) is retried directly instead of in the next batch.
    public var retryDirect = false
    /// Where the run records its batches in flight (`DLGFORGE_BATCH_STATE`, set by dlg-run to a folder of
    /// the run's state); empty: `batches/` in the output folder.
    public var stateDir = ""
    /// The store's DSN when the run keeps its state in PostgreSQL: a `stateDir` of `postgres:<run_id>`
    /// is then that run's rows there.
    public var postgresDSN: String?
    public init() {}

    /// The variable that turns batch mode on (`1`, `true`, `yes`, `on`).
    public static let enableVariable = "DLGFORGE_BATCH_API"
    /// The variable dlg-run sets for its stages: the run's folder of batch records, or
    /// `postgres:<run_id>` with `store.backend: postgres`.
    public static let stateVariable = "DLGFORGE_BATCH_STATE"

    static func read(_ r: ConfigReader) throws(DlgError) -> BatchAPISettings {
        var s = BatchAPISettings()
        let b = "llm.batch_api"
        func has(_ p: String) -> Bool { r.tree.value(at: p).map { !$0.isNull } ?? false }
        if let v = r.tree.value(at: b), !v.isNull, v.objectValue == nil {
            throw r.fail(b, v, "a mapping with enabled, flush_seconds, poll_seconds, max_requests_per_file, max_bytes_per_file and retry_direct")
        }
        if has("\(b).enabled") { s.enabled = try r.bool("\(b).enabled") }
        if has("\(b).flush_seconds") { s.flushSeconds = try r.double("\(b).flush_seconds", min: 0) }
        if has("\(b).poll_seconds") { s.pollSeconds = try r.double("\(b).poll_seconds", min: 0.01) }
        if has("\(b).max_requests_per_file") { s.maxRequestsPerFile = try r.int("\(b).max_requests_per_file", min: 1, max: 50_000) }
        if has("\(b).max_bytes_per_file") { s.maxBytesPerFile = try r.int("\(b).max_bytes_per_file", min: 1024) }
        if has("\(b).retry_direct") { s.retryDirect = try r.bool("\(b).retry_direct") }
        if let env = r.tree.environment[enableVariable], ["1", "true", "yes", "on"].contains(env.lowercased()) { s.enabled = true }
        let outputDir = r.tree.resolvePath(try r.string("saving.output_dir"))
        s.stateDir = (outputDir as NSString).appendingPathComponent("batches")
        if let dir = r.tree.environment[stateVariable], !dir.isEmpty { s.stateDir = dir }
        return s
    }
}
