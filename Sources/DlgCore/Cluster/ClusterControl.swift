import Foundation

/// `dlg-cluster`'s work: bring Ray and PostgreSQL up (or attach to them), run a run as Ray tasks one
/// per shard (scripts/cluster_driver.py), build the dataset from the database, and stop exactly what
/// was started. The Ray and PostgreSQL life cycles are the project's scripts (scripts/ray-local.sh,
/// scripts/pg.sh), the same ones `make test` and `make pg-up` use. Prints nothing: each step returns
/// lines for the tool to show (no secret in them) and errors as `DlgError`.
public struct ClusterControl {
    public let settings: Settings
    public let cluster: ClusterSettings
    public let configPath: String
    /// The repository (its scripts/ and .venv/).
    public let root: String
    /// Where the state file and the local Ray and PostgreSQL data go.
    public let stateDir: String
    /// Folder of the dlg-* binaries every node reaches (all nodes share this machine's paths here).
    public let toolsDir: String
    /// Port of a local Ray head `up` starts, and of a local PostgreSQL.
    public var localRayPort = 6390
    public var localPGPort = 54349
    public var localRayWorkers = 2

    public init(settings: Settings, configPath: String, root: String, stateDir: String, toolsDir: String) throws(DlgError) {
        self.settings = settings
        cluster = try ClusterSettings(settings: settings)
        self.configPath = configPath
        self.root = root
        self.stateDir = stateDir
        self.toolsDir = toolsDir
    }

    /// The Ray driver, when not the checkout's scripts/cluster_driver.py: an installed dlg-cluster's
    /// `<prefix>/share/dlgforge/cluster_driver.py` (scripts/install.sh).
    public var driverScript: String?

    /// The Python that runs the driver: the checkout's .venv (scripts/ray.sh puts Ray there); for an
    /// installed driver without one, python3 on PATH (Ray must be importable there).
    var python: String {
        let venv = (root as NSString).appendingPathComponent(".venv/bin/python")
        guard driverScript != nil, !FileManager.default.isExecutableFile(atPath: venv) else { return venv }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { ($0 as NSString).appendingPathComponent("python3") }
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? venv
    }
    func script(_ name: String) -> String { (root as NSString).appendingPathComponent("scripts/\(name)") }
    var driver: String { driverScript ?? script("cluster_driver.py") }
    var logPath: String { (stateDir as NSString).appendingPathComponent("cluster.log") }

    /// Runs a program with extra environment; stdout returned, stderr appended to cluster.log.
    func call(_ args: [String], env: [String: String] = [:]) throws(DlgError) -> (status: Int32, output: String) {
        try Files.makeDirectory(stateDir)
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        guard let log = FileHandle(forWritingAtPath: logPath) else { throw DlgError.io("\(logPath): cannot open for writing") }
        defer { try? log.close() }
        log.seekToEndOfFile()
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        let child = Subprocess(args, environment: environment, standardInput: .null,
                               standardOutput: .pipe, standardError: .fd(log.fileDescriptor))
        try child.start()
        let data = child.standardOutput?.readDataToEndOfFile() ?? Data()
        return (child.wait(), String(decoding: data, as: UTF8.self))
    }

    func tailOfLog(_ n: Int = 5) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return Redact.text(text.split(separator: "\n").suffix(n).joined(separator: " | "))
    }

    // MARK: up

    /// Brings the cluster up; on a failure stops what it had started, then throws.
    public func up() throws(DlgError) -> [String] {
        if let old = try ClusterState.load(dir: stateDir) {
            throw DlgError(.usage, "a cluster is already up (state in \(ClusterState.path(dir: stateDir)), created \(old.created)); stop it first (down)")
        }
        var lines: [String] = []
        var state = ClusterState(rayAddress: cluster.rayAddress, dsn: cluster.dsn, backend: cluster.backend)
        do throws(DlgError) {
            // Ray
            if cluster.rayAddress == "auto" {
                guard cluster.autoStartLocal else {
                    throw DlgError.unavailable("ray.address is auto, RAY_ADDRESS is not set and ray.auto_start_local is false: no Ray cluster to use; set ray.address or ray.auto_start_local: true")
                }
                let dir = (stateDir as NSString).appendingPathComponent("ray")
                state.rayStartedDir = dir
                state.rayPort = localRayPort
                try state.save(dir: stateDir)
                let r = try call([script("ray-local.sh"), "up"], env: rayScriptEnv(dir: dir, port: localRayPort))
                guard r.status == 0 else { throw DlgError.unavailable("starting the local Ray cluster failed (status \(r.status)): \(tailOfLog())") }
                state.rayAddress = "127.0.0.1:\(localRayPort)"
                state.rayTokenPath = (dir as NSString).appendingPathComponent("auth_token")
                lines.append("ray: started a head and \(localRayWorkers) worker node(s) on 127.0.0.1:\(localRayPort) (data \(dir))")
            } else {
                if let p = ProcessInfo.processInfo.environment["RAY_AUTH_TOKEN_PATH"] { state.rayTokenPath = p }
                lines.append("ray: using the cluster at \(cluster.rayAddress)")
            }
            try state.save(dir: stateDir)
            let nodes = try rayStatus(state)
            lines.append("ray: \(nodes) node(s) alive")
            // PostgreSQL
            if cluster.dsn.isEmpty {
                let dir = (stateDir as NSString).appendingPathComponent("pg")
                let pgEnv = ["PG_DIR": dir, "PG_PORT": String(localPGPort)]
                let r = try call([script("pg.sh"), "up"], env: pgEnv)
                guard r.status == 0 else {
                    // pg.sh stops on its first error; a server it did start is stopped here.
                    _ = try? call([script("pg.sh"), "down"], env: pgEnv)
                    throw DlgError.unavailable("starting the local PostgreSQL failed (status \(r.status)): \(tailOfLog())")
                }
                state.pgStartedDir = dir
                state.pgPort = localPGPort
                state.dsn = r.output.trimmingCharacters(in: .whitespacesAndNewlines)
                lines.append("postgres: started on 127.0.0.1:\(localPGPort) (data \(dir))")
            } else {
                lines.append("postgres: using store.postgres.dsn (\(Redact.text(cluster.dsn)))")
            }
            try state.save(dir: stateDir)
            // LLM endpoints
            switch cluster.backend {
            case "vllm_managed":
                lines += try startVLLM(&state)
                try state.save(dir: stateDir)
            case "vllm_attach":
                lines.append("llm: vllm_attach: endpoints are checked when the run starts")
            default:
                lines.append("llm: \(cluster.backend): nothing to start")
            }
        } catch {
            _ = try? down(state: state)
            throw error
        }
        return lines
    }

    var keyPath: String { (stateDir as NSString).appendingPathComponent("vllm_key") }

    /// `llm.vllm.replicas` `vllm serve` processes, each in a detached Ray actor with
    /// `num_gpus_per_replica` GPUs, on ports from `port_start`, with a key made for this cluster.
    func startVLLM(_ state: inout ClusterState) throws(DlgError) -> [String] {
        let v = cluster.vllm
        var bytes = [UInt8](repeating: 0, count: 24)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let key = "dlg-" + bytes.map { String(format: "%02x", $0) }.joined()
        _ = FileManager.default.createFile(atPath: keyPath, contents: Data(key.utf8), attributes: [.posixPermissions: 0o600])
        state.vllmManaged = true
        try state.save(dir: stateDir)
        var env = state.rayEnvironment
        env["DLG_CLUSTER_VLLM_KEY"] = key
        let logs = (settings.logsDir as NSString).isAbsolutePath ? settings.logsDir
            : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(settings.logsDir)
        // `vllm` as this process's PATH finds it (Ray's workers have the PATH of their node's start).
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        guard let vllm = path.split(separator: ":").map({ "\($0)/vllm" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw DlgError.unavailable("llm.backend: vllm_managed: no vllm executable on PATH; install vLLM (pip install vllm) on every GPU node")
        }
        var args = [python, driver, "vllm-up", "--vllm", vllm, "--replicas", String(v.replicas),
                    "--num-gpus", String(v.numGPUsPerReplica), "--port-start", String(v.portStart), "--host", v.host,
                    "--model", v.model, "--served-name", v.servedModelName, "--log-dir", logs,
                    "--health-timeout", String(v.healthTimeoutS)]
        for f in v.flags { args += ["--extra-arg=\(f)"] }
        let r = try call(args, env: env)
        var urls: [String] = []
        var nodes: [String] = []
        var problems: [String] = []
        var warnings: [String] = []
        for line in r.output.split(separator: "\n") {
            guard let o = (try? JSONCodec.parse(String(line)))?.objectValue else { continue }
            if o["event"]?.stringValue == "replica_started", let u = o["base_url"]?.stringValue {
                urls.append(u)
                nodes.append(o["node_ip"]?.stringValue ?? "?")
            }
            if o["event"]?.stringValue == "replica_warning" {
                warnings.append("vllm: replica \(o["replica"]?.intValue ?? -1) \(o["warning"]?.stringValue ?? "")")
            }
            if o["event"]?.stringValue == "replica_failed" {
                problems.append("vLLM replica \(o["replica"]?.intValue ?? -1): \(o["error"]?.stringValue ?? "failed")")
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

    func rayScriptEnv(dir: String, port: Int) -> [String: String] {
        ["RAY_DIR": dir, "RAY_PORT": String(port), "RAY_WORKERS": String(localRayWorkers)]
    }

    /// The nodes alive, through the driver (which connects as any Ray client does).
    func rayStatus(_ state: ClusterState) throws(DlgError) -> Int {
        let r = try call([python, driver, "status"], env: state.rayEnvironment)
        for line in r.output.split(separator: "\n") {
            if let o = (try? JSONCodec.parse(String(line)))?.objectValue, o["component"]?.stringValue == "ray" {
                return o["nodes_alive"]?.intValue ?? 0
            }
        }
        throw DlgError.unavailable("ray at \(state.rayAddress) does not answer (status \(r.status)): \(tailOfLog())")
    }

    // MARK: status

    public func status() throws(DlgError) -> [String] {
        guard let state = try ClusterState.load(dir: stateDir) else { return ["cluster: not up (no \(ClusterState.path(dir: stateDir)))"] }
        var lines: [String] = []
        let r = try call([python, driver, "status"], env: state.rayEnvironment)
        var rayOK = false
        for line in r.output.split(separator: "\n") {
            guard let o = (try? JSONCodec.parse(String(line)))?.objectValue, let c = o["component"]?.stringValue else { continue }
            if c == "ray" {
                rayOK = true
                lines.append("ray: healthy, \(o["nodes_alive"]?.intValue ?? 0) node(s) alive at \(state.rayAddress)")
            } else if let i = Int(c.dropFirst(5)), let urls = state.vllmEndpoints, i < urls.count {
                lines.append("vllm-\(i): \(o["healthy"]?.boolValue == true ? "healthy" : "NOT healthy (died)") at \(urls[i])")
            }
        }
        if !rayOK { lines.append("ray: NOT healthy at \(state.rayAddress)") }
        if let dir = state.pgStartedDir {
            let r = try call([script("pg.sh"), "status"], env: ["PG_DIR": dir, "PG_PORT": String(state.pgPort ?? localPGPort)])
            lines.append("postgres: \(r.status == 0 ? "healthy" : "NOT healthy") on 127.0.0.1:\(state.pgPort ?? localPGPort)")
        } else {
            lines.append("postgres: \(Redact.text(state.dsn)) (not started by dlg-cluster)")
        }
        return lines
    }

    // MARK: down

    public func down() throws(DlgError) -> [String] {
        guard let state = try ClusterState.load(dir: stateDir) else { return ["cluster: nothing to stop"] }
        return try down(state: state)
    }

    /// Stops the replicas `up` (or `run`) started and forgets them in `state`; nil when done, else
    /// what could not be stopped.
    func stopVLLM(_ state: inout ClusterState) throws(DlgError) -> String? {
        guard state.vllmManaged == true else { return nil }
        let r = try call([python, driver, "vllm-down"], env: state.rayEnvironment)
        guard r.status == 0 else { return "vllm replicas (status \(r.status))" }
        try? FileManager.default.removeItem(atPath: keyPath)
        state.vllmManaged = nil
        state.vllmEndpoints = nil
        return nil
    }

    func down(state: ClusterState) throws(DlgError) -> [String] {
        var state = state
        var lines: [String] = []
        var failures: [String] = []
        if state.vllmManaged == true {
            if let failed = try stopVLLM(&state) { failures.append(failed) } else { lines.append("vllm: replicas stopped") }
        }
        if let dir = state.pgStartedDir {
            let r = try call([script("pg.sh"), "down"], env: ["PG_DIR": dir, "PG_PORT": String(state.pgPort ?? localPGPort)])
            if r.status == 0 { lines.append("postgres: stopped") } else { failures.append("postgres (status \(r.status))") }
        }
        if let dir = state.rayStartedDir {
            let r = try call([script("ray-local.sh"), "down"], env: rayScriptEnv(dir: dir, port: state.rayPort ?? localRayPort))
            if r.status == 0 { lines.append("ray: stopped") } else { failures.append("ray (status \(r.status))") }
        }
        guard failures.isEmpty else {
            throw DlgError.unavailable("could not stop \(failures.joined(separator: ", ")): \(tailOfLog()); the state file stays for another down")
        }
        ClusterState.remove(dir: stateDir)
        if lines.isEmpty { lines.append("cluster: nothing started by dlg-cluster to stop") }
        return lines
    }

    // MARK: run

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

    /// One shard's result as the driver reports it.
    public struct ShardResult: Sendable {
        public let shard: Int
        public let nodeID: String
        public let seconds: Double
    }

    public struct RunResult: Sendable {
        public let runID: String
        public let shards: [ShardResult]
        public let failedShards: Int
        public let exportSummary: String
        /// What the run started or stopped besides its shards (vLLM replicas), for the log.
        public let notes: [String]
    }

    /// The run split in shards, one Ray task each, then the dataset from the database.
    ///
    /// With `llm.backend: vllm_managed`, replicas that are not up (stopped by an earlier run's
    /// `llm.vllm.auto_stop_on_exit`) are started first, and with `auto_stop_on_exit` (upstream's default)
    /// they are stopped when the run ends, whether it succeeded or not; Ray and PostgreSQL stay up for
    /// the next run until `down`.
    public func run(runID: String, shards requested: Int?) throws(DlgError) -> RunResult {
        guard var state = try ClusterState.load(dir: stateDir) else {
            throw DlgError.unavailable("no cluster is up (no \(ClusterState.path(dir: stateDir))); bring one up first (up -c \(configPath))")
        }
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
                         exportSummary: result.exportSummary, notes: notes)
    }

    func runShards(state: ClusterState, runID: String, shards requested: Int?) throws(DlgError) -> RunResult {
        var shards = requested ?? cluster.shards
        if shards == 0 { shards = max(1, 2 * (try rayStatus(state))) }
        var env = state.rayEnvironment
        env["POSTGRES_DSN"] = state.dsn
        env["STORE_BACKEND"] = "postgres"
        if let urls = state.vllmEndpoints, !urls.isEmpty {
            // The replicas are the run's endpoints, with the cluster's key (read from its file here,
            // handed on in the environment, never in a command line or a message).
            let key = (try? String(contentsOfFile: keyPath, encoding: .utf8)) ?? ""
            env["DLG_CLUSTER_VLLM_KEY"] = key
            let list: [JSON] = urls.map { .object(["base_url": .string($0), "api_key_env": .string("DLG_CLUSTER_VLLM_KEY"),
                                                    "model": .string(cluster.vllm.servedModelName)]) }
            env["LLM_ROUTING_ENDPOINTS_JSON"] = JSON.array(list).serialized()
            env["LLM_MODE"] = "vllm_attach"
            env["LLM_BACKEND"] = "vllm_attach"
        }
        // The variables the config names (`${VAR}`) go to the shards too, as the ones dlgforge reads.
        if let text = try? String(contentsOfFile: configPath, encoding: .utf8) {
            let names = Self.referencedVariables(text)
            if !names.isEmpty { env["DLG_CLUSTER_FORWARD"] = names.joined(separator: ",") }
        }
        let config = (configPath as NSString).isAbsolutePath ? configPath : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(configPath)
        let r = try call([python, driver, "run", "--shards", String(shards), "--run-id", runID,
                          "--config", config, "--bin", toolsDir, "--cwd", FileManager.default.currentDirectoryPath,
                          "--max-retries", String(cluster.maxRetries), "--num-cpus", String(cluster.numCPUs)], env: env)
        var results: [ShardResult] = []
        var failed = 0
        for line in r.output.split(separator: "\n") {
            guard let o = (try? JSONCodec.parse(String(line)))?.objectValue else { continue }
            switch o["event"]?.stringValue {
            case "shard_done":
                results.append(ShardResult(shard: o["shard"]?.intValue ?? -1, nodeID: o["node_id"]?.stringValue ?? "",
                                           seconds: o["seconds"]?.doubleValue ?? 0))
            case "shard_failed": failed += 1
            default: break
            }
        }
        if r.status != 0 || failed > 0 || results.count != shards {
            throw DlgError(.tempFail, "\(failed) of \(shards) shard(s) failed after \(cluster.maxRetries) retries (driver status \(r.status)): \(tailOfLog()); every dialogue is in the database: run again with --run-id \(runID) to resume")
        }
        let export = try call([(toolsDir as NSString).appendingPathComponent("dlg-export"), "--config", config, "--run-id", runID],
                              env: ["POSTGRES_DSN": state.dsn, "STORE_BACKEND": "postgres"])
        guard export.status == 0 else {
            throw DlgError(DlgError.Code(rawValue: export.status) ?? .software, "the export of run \(runID) from the store failed with status \(export.status): \(tailOfLog())")
        }
        return RunResult(runID: runID, shards: results.sorted { $0.shard < $1.shard }, failedShards: failed,
                         exportSummary: export.output.trimmingCharacters(in: .whitespacesAndNewlines), notes: [])
    }
}
