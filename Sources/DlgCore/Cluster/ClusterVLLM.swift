import Foundation

/// `llm.backend: vllm_managed`: `llm.vllm.replicas` `vllm serve` processes, each in a detached Ray actor
/// with `num_gpus_per_replica` GPUs, on ports from `port_start`, with a key made for this cluster.
extension ClusterControl {
    var keyPath: String { (stateDir as NSString).appendingPathComponent("vllm_key") }

    func startVLLM(_ state: inout ClusterState) throws(DlgError) -> [String] {
        let v = cluster.vllm
        var bytes = [UInt8](repeating: 0, count: 24)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let key = "dlg-" + bytes.map { String(format: "%02x", $0) }.joined()
        // Created 0600, never world-readable in between.
        try Files.writeSecret(key, to: keyPath)
        state.vllmManaged = true
        try state.save(dir: stateDir)
        let logs = (settings.logsDir as NSString).isAbsolutePath ? settings.logsDir
            : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(settings.logsDir)
        // `vllm` as this process's PATH finds it (Ray's workers have the PATH of their node's start).
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let vllm = path.split(separator: ":").map({ "\($0)/vllm" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DlgError.unavailable("llm.backend: vllm_managed: no vllm executable on PATH; install vLLM (pip install vllm) on every GPU node")
        }
        var args = ["--vllm", vllm, "--replicas", String(v.replicas), "--num-gpus", String(v.numGPUsPerReplica),
                    "--port-start", String(v.portStart), "--host", v.host, "--model", v.model,
                    "--served-name", v.servedModelName, "--log-dir", logs, "--health-timeout", String(v.healthTimeoutS)]
        for f in v.flags { args += ["--extra-arg=\(f)"] }
        Redact.register(key)
        let r = try driver("vllm-up", args, state: state, env: ["DLG_CLUSTER_VLLM_KEY": key])
        var urls: [String] = [], nodes: [String] = [], problems: [String] = [], warnings: [String] = []
        for o in r.events {
            switch o["event"]?.stringValue {
            case "replica_started":
                if let u = o["base_url"]?.stringValue { urls.append(u); nodes.append(o["node_ip"]?.stringValue ?? "?") }
            case "replica_warning":
                warnings.append("vllm: replica \(o["replica"]?.intValue ?? -1) \(o["warning"]?.stringValue ?? "")")
            case "replica_failed":
                problems.append("vLLM replica \(o["replica"]?.intValue ?? -1): \(o["error"]?.stringValue ?? "failed")")
            default: break
            }
        }
        guard r.status == 0, problems.isEmpty, urls.count == v.replicas else {
            throw DlgError.unavailable("starting vLLM failed: \(problems.isEmpty ? tailOfLog() : problems.joined(separator: "; "))")
        }
        state.vllmEndpoints = urls
        return urls.enumerated().map {
            "vllm: replica \($0.offset) healthy at \($0.element) on node \(nodes[$0.offset]) (log \(logs)/vllm-\($0.offset).log)"
        } + warnings
    }

    /// Stops the replicas `up` (or `run`) started and forgets them in `state`; nil when done, else
    /// what could not be stopped.
    func stopVLLM(_ state: inout ClusterState) throws(DlgError) -> String? {
        guard state.vllmManaged == true else { return nil }
        let r = try driver("vllm-down", state: state)
        guard r.status == 0 else { return "vllm replicas (status \(r.status))" }
        try? FileManager.default.removeItem(atPath: keyPath)
        state.vllmManaged = nil
        state.vllmEndpoints = nil
        return nil
    }
}
