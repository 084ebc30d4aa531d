import Foundation

/// `dlg-cluster run`: the run split in shards, one Ray task each on whichever hosts joined, then the
/// dataset from the database. What a shard needs travels with the job (scripts/cluster_driver.py): the
/// tools as one package, the project laid out by `ClusterProject`, secrets in the job's environment.
extension ClusterControl {
    /// One shard's result as the driver reports it.
    public struct ShardResult: Sendable {
        public let shard: Int
        public let nodeID: String
        public let host: String
        public let seconds: Double
        /// Bytes of shipped packages this attempt's host had to fetch (0: all were cached there), and the
        /// seconds fetching and unpacking them took.
        public let fetchedBytes: Int
        public let fetchSeconds: Double
    }

    /// What was shipped: the packages' sizes and how long packing and the object store took.
    public struct Shipping: Sendable {
        public var toolsBytes = 0, projectBytes = 0
        public var packSeconds = 0.0, putSeconds = 0.0
        public var toolsBuilt = false
    }

    public struct RunResult: Sendable {
        public let runID: String
        public let shards: [ShardResult]
        public let failedShards: Int
        public let exportSummary: String
        public let shipping: Shipping
        /// What the run started or stopped besides its shards (vLLM replicas), for the log.
        public let notes: [String]
    }

    /// The run. With `llm.backend: vllm_managed`, replicas that are not up (stopped by an earlier run's
    /// `llm.vllm.auto_stop_on_exit`) are started first, and with `auto_stop_on_exit` (upstream's default)
    /// they are stopped when the run ends, whether it succeeded or not; Ray and PostgreSQL stay up for
    /// the next run until `down`.
    public func run(runID: String, shards requested: Int?) async throws(DlgError) -> RunResult {
        guard let loaded = try ClusterState.load(dir: stateDir) else {
            throw DlgError.unavailable("no cluster is up (no \(ClusterState.path(dir: stateDir))); bring one up first (up -c \(configPath))")
        }
        // The knowledge index is built here, once, and shipped: workers never see the knowledge files.
        let client = settings.retrieval.embeddingModel.isEmpty ? nil : LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer)
        _ = try await KnowledgeBase.open(settings: settings, client: client)
        return try await OwnThread.runThrowing { () throws(DlgError) -> RunResult in
            var state = loaded
            return try self.runWithEndpoints(&state, runID: runID, shards: requested)
        }
    }

    func runWithEndpoints(_ state: inout ClusterState, runID: String, shards requested: Int?) throws(DlgError) -> RunResult {
        var notes: [String] = []
        let managed = cluster.backend == "vllm_managed"
        if managed && (state.vllmEndpoints ?? []).isEmpty {
            do throws(DlgError) {
                notes += try startVLLM(&state)
                try state.save(dir: stateDir)
            } catch {
                _ = try? stopVLLM(&state)
                try? state.save(dir: stateDir)
                throw error
            }
        }
        let result: RunResult
        do throws(DlgError) {
            result = try runShards(state: state, runID: runID, shards: requested)
        } catch {
            if managed && cluster.vllm.autoStopOnExit {
                _ = try? stopVLLM(&state)
                try? state.save(dir: stateDir)
            }
            throw error
        }
        if managed && cluster.vllm.autoStopOnExit {
            if let failed = try stopVLLM(&state) {
                notes.append("could not stop \(failed) (llm.vllm.auto_stop_on_exit): run down")
            } else {
                notes.append("vllm: replicas stopped (llm.vllm.auto_stop_on_exit)")
            }
            try state.save(dir: stateDir)
        }
        return RunResult(runID: result.runID, shards: result.shards, failedShards: result.failedShards,
                         exportSummary: result.exportSummary, shipping: result.shipping, notes: notes)
    }

    /// The names in `${NAME}` and `${NAME:-default}` of a config's text.
    public static func referencedVariables(_ text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while let r = rest.range(of: "${") {
            rest = rest[r.upperBound...]
            let name = rest.prefix { $0 == "_" || $0.isLetter || $0.isNumber }
            if !name.isEmpty, !out.contains(String(name)) { out.append(String(name)) }
        }
        return out
    }

    /// Variables of this process that are about one process or one host and must not reach the shards.
    static let localOnly: Set<String> = ["DLG_BIN_DIR", "DLG_PDFTOTEXT", "DLG_KEEP_WORKDIRS", "DLG_PROGRESS",
                                         "DLGFORGE_LIMITS_SOCKET", "DLG_WORKER_CACHE", "DLG_JOINED_TEMP_DIR",
                                         "DLG_BUNDLE_CACHE", "DLG_SHIPPED_INDEX"]

    /// The shards' environment: what dlgforge reads (its prefixes), the variables the config names, the
    /// store, and the secrets the shipped config refers to; never a path of this host.
    func jobEnvironment(state: ClusterState, project: ClusterProject) -> [String: String] {
        let mine = ProcessInfo.processInfo.environment
        var named = Set<String>()
        if let text = try? String(contentsOfFile: configPath, encoding: .utf8) { named = Set(Self.referencedVariables(text)) }
        var env: [String: String] = [:]
        for (k, v) in mine {
            let wanted = named.contains(k) || ["DLG_", "POSTGRES_", "DLGFORGE_", "OPENAI_", "STORE_", "LLM_"].contains { k.hasPrefix($0) }
            if wanted && !k.hasPrefix("DLG_CLUSTER_") && !k.hasPrefix("DLG_RAY_") && !Self.localOnly.contains(k)
                && !ClusterProject.pathOverrides.contains(k) {
                env[k] = v
            }
        }
        for (k, v) in project.secrets { env[k] = v; Redact.register(v) }
        env["POSTGRES_DSN"] = state.dsn
        Redact.register(dsn: state.dsn)
        env["STORE_BACKEND"] = "postgres"
        if let urls = state.vllmEndpoints, !urls.isEmpty {
            // The replicas are the run's endpoints, with the cluster's key (read from its file here,
            // handed on in the environment, never in a command line or a message).
            env["DLG_CLUSTER_VLLM_KEY"] = (try? String(contentsOfFile: keyPath, encoding: .utf8)) ?? ""
            Redact.register(env["DLG_CLUSTER_VLLM_KEY"]!)
            let list: [JSON] = urls.map { .object(["base_url": .string($0), "api_key_env": .string("DLG_CLUSTER_VLLM_KEY"),
                                                    "model": .string(cluster.vllm.servedModelName)]) }
            env["LLM_ROUTING_ENDPOINTS_JSON"] = JSON.array(list).serialized()
            env["LLM_MODE"] = "vllm_attach"
            env["LLM_BACKEND"] = "vllm_attach"
        }
        return env
    }

    func runShards(state: ClusterState, runID: String, shards requested: Int?) throws(DlgError) -> RunResult {
        var shards = requested ?? cluster.shards
        if shards == 0 { shards = max(1, 2 * (try rayNodes(state).filter { $0.alive && $0.cpus > 0 }.count)) }
        let jobDir = try RunLayout.clusterJobDir(stateDir: stateDir, runID: runID)
        let project = try ClusterProject.prepare(settings: settings, in: (jobDir as NSString).appendingPathComponent("project"))
        defer { try? FileManager.default.removeItem(atPath: jobDir) }
        let job = jobEnvironment(state: state, project: project)
        var env = job
        env["DLG_CLUSTER_JOB_ENV"] = job.keys.sorted().joined(separator: ",")
        env["DLG_BUNDLE_CACHE"] = ProcessInfo.processInfo.environment["DLG_BUNDLE_CACHE"] ?? (stateDir as NSString).appendingPathComponent("bundles")
        // Each shard's dlg-dedup writes the questions it rejected in its own folder; the driver appends
        // them to the run's rejections files here (run_state/<record run id>/), which metrics.json reads.
        let r = try driver("run", ["--shards", String(shards), "--run-id", runID, "--project", project.dir, "--bin", toolsDir,
                                   "--log-dir", settings.logsDir, "--state-dir", settings.layout.stateRoot,
                                   "--max-retries", String(cluster.maxRetries),
                                   "--num-cpus", String(cluster.numCPUs)], state: state, env: env)
        var results: [ShardResult] = []
        var failures: [String] = []
        var shipping = Shipping()
        for o in r.events {
            switch o["event"]?.stringValue {
            case "bundle":
                shipping = Shipping(toolsBytes: o["tools_bytes"]?.intValue ?? 0, projectBytes: o["project_bytes"]?.intValue ?? 0,
                                    packSeconds: o["pack_seconds"]?.doubleValue ?? 0, putSeconds: o["put_seconds"]?.doubleValue ?? 0,
                                    toolsBuilt: o["tools_built"]?.boolValue ?? false)
            case "shard_done":
                let parts = o["fetched"]?.objectValue?.pairs ?? []
                results.append(ShardResult(shard: o["shard"]?.intValue ?? -1, nodeID: o["node_id"]?.stringValue ?? "",
                                           host: o["node_ip"]?.stringValue ?? "", seconds: o["seconds"]?.doubleValue ?? 0,
                                           fetchedBytes: parts.reduce(0) { $0 + ($1.value["bytes"]?.intValue ?? 0) },
                                           fetchSeconds: parts.reduce(0.0) { $0 + ($1.value["seconds"]?.doubleValue ?? 0) }))
            case "shard_failed": failures.append(Self.describeFailure(o))
            default: break
            }
        }
        if r.status != 0 || !failures.isEmpty || results.count != shards {
            let what = failures.isEmpty ? "the driver ended with status \(r.status): \(tailOfLog())"
                : "\(failures.count) of \(shards) shard(s) failed after \(cluster.maxRetries) retries:\n" + failures.joined(separator: "\n")
            throw DlgError(.tempFail, "\(what)\nevery dialogue done so far is in the database: run again with --run-id \(runID) to resume")
        }
        let config = (configPath as NSString).isAbsolutePath ? configPath : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(configPath)
        let export = try call([(toolsDir as NSString).appendingPathComponent("dlg-export"), "--config", config, "--run-id", runID],
                              env: ["POSTGRES_DSN": state.dsn, "STORE_BACKEND": "postgres"])
        guard export.status == 0 else {
            throw DlgError(DlgError.Code(rawValue: export.status) ?? .software, "the export of run \(runID) from the store failed with status \(export.status): \(tailOfLog())")
        }
        return RunResult(runID: runID, shards: results.sorted { $0.shard < $1.shard }, failedShards: 0,
                         exportSummary: export.output.trimmingCharacters(in: .whitespacesAndNewlines), shipping: shipping, notes: [])
    }

    /// `shard 1 on host 10.231.7.3: dlg-run exited with status 69`, then its last log lines, indented.
    static func describeFailure(_ o: JSONObject) -> String {
        let host = o["host"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "an unknown host"
        var text = "  shard \(o["shard"]?.intValue ?? -1) on host \(host): \(o["reason"]?.stringValue ?? "failed")"
        let tail = (o["tail"]?.arrayValue ?? []).compactMap(\.stringValue).suffix(8)
        if tail.isEmpty {
            text += " (it wrote no log line)"
        } else {
            text += ", its last log lines:\n" + tail.map { "    | " + Redact.text($0) }.joined(separator: "\n")
        }
        return text
    }
}
