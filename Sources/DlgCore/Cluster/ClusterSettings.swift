import Foundation

/// What `dlg-cluster` reads from the config: upstream's `ray.*` keys (and the newer
/// `run.distributed.ray.*`, mapped by ConfigLayoutV2), the store's DSN, `llm.backend`, and our
/// `run.distributed.shards` / `run.distributed.max_retries`.
public struct ClusterSettings: Sendable {
    /// `ray.address` (`RAY_ADDRESS` overrides it): `auto` finds a cluster from the environment or starts one.
    public var rayAddress: String
    /// `ray.auto_start_local` (default true): with `auto` and no cluster found, start a local one.
    public var autoStartLocal: Bool
    /// `run.distributed.shards` (ours; default 0 = two per Ray node alive when the run starts).
    public var shards: Int
    /// `run.distributed.max_retries` (ours; default 3): Ray's retries of a shard whose process failed.
    public var maxRetries: Int
    /// `ray.actor.num_cpus` (default 0.5): CPUs Ray reserves for each shard's task (it mostly waits on the LLM).
    public var numCPUs: Double
    public var dsn: String
    public var backend: String

    public init(settings: Settings) throws(DlgError) {
        let tree = settings.tree
        func str(_ key: String, _ fallback: String) -> String {
            tree.value(at: key)?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? fallback
        }
        rayAddress = tree.environment["RAY_ADDRESS"].flatMap { $0.isEmpty ? nil : $0 } ?? str("ray.address", "auto")
        autoStartLocal = tree.value(at: "ray.auto_start_local")?.boolValue ?? true
        shards = tree.value(at: "run.distributed.shards")?.intValue ?? 0
        maxRetries = tree.value(at: "run.distributed.max_retries")?.intValue ?? 3
        numCPUs = tree.value(at: "ray.actor.num_cpus")?.doubleValue ?? 0.5
        guard shards >= 0 else {
            throw DlgError.config("\(tree.location(of: "run.distributed.shards")): run.distributed.shards: expected 0 (two per node) or more, got \(shards)")
        }
        guard maxRetries >= 0 else {
            throw DlgError.config("\(tree.location(of: "run.distributed.max_retries")): run.distributed.max_retries: expected 0 or more, got \(maxRetries)")
        }
        dsn = settings.store.dsn
        backend = settings.backend
    }
}
