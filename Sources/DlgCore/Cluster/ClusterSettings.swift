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
    /// `llm.vllm.*` for `vllm_managed`.
    public var vllm: VLLMSettings

    public struct VLLMSettings: Sendable {
        public var model = "", servedModelName = "", host = "127.0.0.1"
        public var replicas = 1, portStart = 18000, tensorParallelSize = 1, maxNumSeqs = 256
        public var numGPUsPerReplica = 1.0, gpuMemoryUtilization = 0.9, healthTimeoutS = 180.0
        public var autoStopOnExit = true
        /// The `vllm serve` flags of upstream (the key is not among them: it goes by VLLM_API_KEY).
        public var flags: [String] {
            ["--tensor-parallel-size", String(tensorParallelSize), "--gpu-memory-utilization", String(gpuMemoryUtilization),
             "--max-num-seqs", String(maxNumSeqs)]
        }
    }

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
        var v = VLLMSettings()
        v.model = str("llm.vllm.model", str("llm.model", ""))
        v.servedModelName = str("llm.vllm.served_model_name", v.model)
        // 0.0.0.0 is upstream's default, taken as "not said": our replicas listen on 127.0.0.1.
        let host = str("llm.vllm.host", "127.0.0.1")
        v.host = host == "0.0.0.0" ? "127.0.0.1" : host
        v.replicas = tree.value(at: "llm.vllm.replicas")?.intValue ?? 1
        v.portStart = tree.value(at: "llm.vllm.port_start")?.intValue ?? 18000
        v.tensorParallelSize = tree.value(at: "llm.vllm.tensor_parallel_size")?.intValue ?? 1
        v.maxNumSeqs = tree.value(at: "llm.vllm.max_num_seqs")?.intValue ?? 256
        v.numGPUsPerReplica = tree.value(at: "llm.vllm.num_gpus_per_replica")?.doubleValue ?? 1
        v.gpuMemoryUtilization = tree.value(at: "llm.vllm.gpu_memory_utilization")?.doubleValue ?? 0.9
        v.healthTimeoutS = tree.value(at: "llm.vllm.health_timeout_s")?.doubleValue ?? 180
        v.autoStopOnExit = tree.value(at: "llm.vllm.auto_stop_on_exit")?.boolValue ?? true
        if backend == "vllm_managed" {
            guard v.replicas >= 1 else { throw DlgError.config("\(tree.location(of: "llm.vllm.replicas")): llm.vllm.replicas: expected 1 or more, got \(v.replicas)") }
            guard !v.model.isEmpty else { throw DlgError.config("\(tree.location(of: "llm.vllm.model")): llm.vllm.model: vllm_managed needs the model to serve") }
        }
        vllm = v
    }
}
