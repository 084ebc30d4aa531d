import Foundation

/// `dlg-cluster`'s work on the head host: bring Ray and PostgreSQL up on the address the user names (or
/// attach to them), run a run as Ray tasks one per shard on whichever hosts joined (ClusterRun.swift),
/// and stop exactly what was started, asking joined hosts to stop too. The Ray and PostgreSQL life cycles
/// are the project's scripts (scripts/ray.sh, scripts/pg.sh), the same ones `make test` and `make pg-up`
/// use; Ray is driven through scripts/cluster_driver.py. Prints nothing: each step returns lines for the
/// tool to show (no secret in them) and errors as `DlgError`. Every call blocks: run it off Swift's
/// cooperative pool (`OwnThread.run`).
public struct ClusterControl: Sendable {
    public let settings: Settings
    public let cluster: ClusterSettings
    public let configPath: String
    /// The folder of cluster_driver.py, ray.sh and pg.sh (a checkout's scripts/, or share/dlgforge).
    public let scriptsDir: String
    /// Where the state file and the local Ray and PostgreSQL data go.
    public let stateDir: String
    /// Folder of the `dlg` binary shipped to the workers (and of dlg-export, run here at the end).
    public let toolsDir: String
    /// Port of a local Ray head `up` starts, and of a local PostgreSQL.
    public var localRayPort = 6390
    public var localPGPort = 54349
    /// The address `up` puts the Ray head, PostgreSQL and managed endpoints on (`up --listen`).
    public var listen = "127.0.0.1"
    /// Extra Ray nodes `up` starts on this host (nil: 2 on loopback, none elsewhere).
    public var localRayWorkers: Int?
    /// CPUs the head offers to shards (nil: as many as a local node; 0 keeps shards off the head).
    public var headCPUs: Int?
    /// A Python with Ray (`--python`, DLG_RAY_PYTHON); nil: the checkout's .venv, else python3 on PATH.
    public var rayPython: String?

    public init(settings: Settings, configPath: String, scriptsDir: String, stateDir: String, toolsDir: String) throws(DlgError) {
        self.settings = settings
        cluster = try ClusterSettings(settings: settings)
        self.configPath = configPath
        self.scriptsDir = scriptsDir
        self.stateDir = stateDir
        self.toolsDir = toolsDir
    }

    func script(_ name: String) -> String { (scriptsDir as NSString).appendingPathComponent(name) }
    var logPath: String { (stateDir as NSString).appendingPathComponent("cluster.log") }
    var isLoopback: Bool { ClusterPorts.isLoopback(listen) }

    /// The Python that runs the driver (installing Ray into a checkout's .venv when that is where it goes).
    func python() throws(DlgError) -> String {
        try RayPython.find(explicit: rayPython, scriptsDir: scriptsDir, log: logPath)
    }

    /// Runs a program with extra environment to its exit; its stdout (through a file, so a daemon that
    /// keeps the descriptor open cannot hold us), its stderr appended to cluster.log.
    func call(_ args: [String], env: [String: String] = [:], timeout: Duration? = nil) throws(DlgError) -> (status: Int32, output: String) {
        try Files.makeDirectory(stateDir)
        chmod(stateDir, 0o700)
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard log >= 0 else { throw DlgError.io("\(logPath): cannot open for writing") }
        defer { close(log) }
        let outPath = (stateDir as NSString).appendingPathComponent(".out-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let out = open(outPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw DlgError.io("\(outPath): cannot create") }
        defer { close(out); unlink(outPath) }
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        let child = Subprocess(args, environment: environment, standardInput: .null,
                               standardOutput: .fd(out), standardError: .fd(log))
        try child.start()
        if let timeout {
            // A watchdog of its own: the child is killed if it outlives the limit (a Ray client that
            // keeps retrying a head that is gone).
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            _ = OwnThread.detach(stackSize: 64 << 10) {
                let deadline = Date().addingTimeInterval(seconds)
                while child.isRunning && Date() < deadline { usleep(100_000) }
                if child.isRunning { child.kill(signal: SIGKILL) }
            }
        }
        let status = child.wait()
        let text = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        return (status, text)
    }

    /// The last lines of cluster.log, secrets masked.
    func tailOfLog(_ n: Int = 5) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return Redact.text(text.split(separator: "\n").suffix(n).joined(separator: " | "))
    }

    /// The driver's JSON lines.
    static func events(_ output: String) -> [JSONObject] {
        output.split(separator: "\n").compactMap { (try? JSONCodec.parse(String($0)))?.objectValue }
    }

    func driver(_ verb: String, _ args: [String] = [], state: ClusterState, env extra: [String: String] = [:],
                timeout: Duration? = nil) throws(DlgError) -> (status: Int32, events: [JSONObject]) {
        var env = state.rayEnvironment
        for (k, v) in extra { env[k] = v }
        let r = try call([try python(), script("cluster_driver.py"), verb] + args, env: env, timeout: timeout)
        return (r.status, Self.events(r.output))
    }

    // MARK: up

    /// Brings the cluster up; on a failure stops what it had started, then throws. Each service is
    /// recorded in the state file before it is started, so an `up` killed at any moment leaves nothing a
    /// following `down` cannot stop.
    public func up() throws(DlgError) -> [String] {
        if let old = try ClusterState.load(dir: stateDir) {
            throw DlgError(.usage, "a cluster is already up (state in \(ClusterState.path(dir: stateDir)), created \(old.created)); stop it first (down)")
        }
        var lines: [String] = []
        var state = ClusterState(rayAddress: cluster.rayAddress, dsn: cluster.dsn, backend: cluster.backend)
        state.listen = listen
        do throws(DlgError) {
            try state.save(dir: stateDir)
            lines += try startRay(&state)
            let nodes = try rayNodes(state)
            lines.append("ray: \(nodes.filter(\.alive).count) node(s) alive")
            lines += try startPostgres(&state)
            lines += try publishManifest(state)
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
        if state.rayStartedDir != nil, !isLoopback {
            let token = state.rayTokenPath ?? "<state>/ray/auth_token"
            lines.append("join a worker host: copy \(token) there (mode 0600), then run: dlg-cluster join --address \(state.rayAddress) --token-file <its path>")
            lines += ClusterPorts(rayPort: localRayPort, pgPort: state.pgPort).firewallLines(listen: listen)
        }
        return lines
    }

    func startRay(_ state: inout ClusterState) throws(DlgError) -> [String] {
        guard cluster.rayAddress == "auto" else {
            if let p = ProcessInfo.processInfo.environment["RAY_AUTH_TOKEN_PATH"] { state.rayTokenPath = p }
            try state.save(dir: stateDir)
            return ["ray: using the cluster at \(cluster.rayAddress)"]
        }
        guard cluster.autoStartLocal else {
            throw DlgError.unavailable("ray.address is auto, RAY_ADDRESS is not set and ray.auto_start_local is false: no Ray cluster to use; set ray.address or ray.auto_start_local: true")
        }
        let dir = (stateDir as NSString).appendingPathComponent("ray")
        state.rayStartedDir = dir
        state.rayPort = localRayPort
        try state.save(dir: stateDir)
        let r = try call([script("ray.sh"), "up"], env: rayScriptEnv(dir: dir, port: localRayPort))
        guard r.status == 0 else { throw DlgError.unavailable("starting the Ray head failed (status \(r.status)): \(tailOfLog())") }
        state.rayAddress = "\(listen):\(localRayPort)"
        state.rayTokenPath = (dir as NSString).appendingPathComponent("auth_token")
        try state.save(dir: stateDir)
        let workers = localRayWorkers ?? (isLoopback ? 2 : 0)
        return ["ray: started a head\(workers > 0 ? " and \(workers) worker node(s)" : "") on \(listen):\(localRayPort) (data \(dir))"]
    }

    func startPostgres(_ state: inout ClusterState) throws(DlgError) -> [String] {
        guard cluster.dsn.isEmpty else {
            return ["postgres: using store.postgres.dsn (\(Redact.text(cluster.dsn)))"]
        }
        let dir = (stateDir as NSString).appendingPathComponent("pg")
        state.pgStartedDir = dir
        state.pgPort = localPGPort
        try state.save(dir: stateDir)
        let pgEnv = ["PG_DIR": dir, "PG_PORT": String(localPGPort), "PG_LISTEN": listen]
        let r = try call([script("pg.sh"), "up"], env: pgEnv)
        let dsnFile = r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard r.status == 0, let dsn = try? Files.readText(dsnFile) else {
            throw DlgError.unavailable("starting the local PostgreSQL failed (status \(r.status)): \(tailOfLog())")
        }
        state.dsn = dsn.trimmingCharacters(in: .whitespacesAndNewlines)
        try state.save(dir: stateDir)
        return ["postgres: started on \(listen):\(localPGPort) (data \(dir); its DSN, with a password made for it, in \(dsnFile))"]
    }

    /// What the tools shipped to the workers need of a host (architecture, glibc), in Ray's key-value
    /// store, for `join` to check a host before it joins.
    func publishManifest(_ state: ClusterState) throws(DlgError) -> [String] {
        let r = try driver("publish-manifest", ["--bin", toolsDir], state: state)
        guard r.status == 0, let m = r.events.first(where: { $0["component"]?.stringValue == "manifest" }) else {
            return ["tools: no manifest published (\(tailOfLog(2))): join cannot check hosts before the first run"]
        }
        return ["tools: \(m["arch"]?.stringValue ?? "?"), glibc \(m["glibc"]?.stringValue ?? "?") or newer on every worker host"]
    }

    func rayScriptEnv(dir: String, port: Int) -> [String: String] {
        var env = ["RAY_DIR": dir, "RAY_PORT": String(port), "RAY_LISTEN": listen]
        if let w = localRayWorkers { env["RAY_WORKERS"] = String(w) }
        if let c = headCPUs { env["RAY_HEAD_CPUS"] = String(c) }
        if let p = try? python() { env["RAY_PYTHON"] = p }
        return env
    }

    /// The hosts of the cluster, through the driver (which connects as any Ray client does).
    func rayNodes(_ state: ClusterState) throws(DlgError) -> [ClusterHost] {
        let r = try driver("nodes", ["--shard-cpus", String(cluster.numCPUs)], state: state, timeout: .seconds(60))
        let hosts = r.events.compactMap(ClusterHost.init(event:))
        guard r.status == 0, !hosts.isEmpty else {
            throw DlgError.unavailable("ray at \(state.rayAddress) does not answer (status \(r.status)): \(tailOfLog())")
        }
        return hosts
    }

    // MARK: status

    public func status() throws(DlgError) -> [String] {
        guard let state = try ClusterState.load(dir: stateDir) else { return ["cluster: not up (no \(ClusterState.path(dir: stateDir)))"] }
        var lines: [String] = []
        if let hosts = try? rayNodes(state) {
            lines.append("ray: healthy, \(hosts.filter(\.alive).count) node(s) alive at \(state.rayAddress)")
            lines += hosts.map(\.line)
        } else {
            lines.append("ray: NOT healthy at \(state.rayAddress)")
        }
        if let urls = state.vllmEndpoints, !urls.isEmpty {
            let r = try driver("status", state: state)
            for o in r.events {
                guard let c = o["component"]?.stringValue, c.hasPrefix("vllm-"), let i = Int(c.dropFirst(5)), i < urls.count else { continue }
                lines.append("vllm-\(i): \(o["healthy"]?.boolValue == true ? "healthy" : "NOT healthy (died)") at \(urls[i])")
            }
        }
        if let dir = state.pgStartedDir {
            let port = state.pgPort ?? localPGPort
            let r = try call([script("pg.sh"), "status"], env: ["PG_DIR": dir, "PG_PORT": String(port), "PG_LISTEN": state.listen ?? listen])
            lines.append("postgres: \(r.status == 0 ? "healthy" : "NOT healthy") on \(state.listen ?? listen):\(port)")
        } else {
            lines.append("postgres: \(Redact.text(state.dsn)) (not started by dlg-cluster)")
        }
        if state.rayStartedDir != nil, let l = state.listen, !ClusterPorts.isLoopback(l) {
            lines += ClusterPorts(rayPort: state.rayPort ?? localRayPort, pgPort: state.pgPort).firewallLines(listen: l)
        }
        return lines
    }

    // MARK: down

    public func down() throws(DlgError) -> [String] {
        guard let state = try ClusterState.load(dir: stateDir) else { return ["cluster: nothing to stop"] }
        return try down(state: state)
    }

    /// Stops what the state lists: each joined host is asked to drop the packages it cached and, when
    /// this `up` started the head, to stop its Ray node; the hosts that could not be reached are named.
    func down(state: ClusterState) throws(DlgError) -> [String] {
        var state = state
        var lines: [String] = []
        var failures: [String] = []
        lines += cleanHosts(state)
        if state.vllmManaged == true {
            if let failed = try stopVLLM(&state) { failures.append(failed) } else { lines.append("vllm: replicas stopped") }
        }
        if let dir = state.pgStartedDir {
            let r = try call([script("pg.sh"), "down"], env: ["PG_DIR": dir, "PG_PORT": String(state.pgPort ?? localPGPort)])
            if r.status == 0 { lines.append("postgres: stopped") } else { failures.append("postgres (status \(r.status))") }
        }
        if let dir = state.rayStartedDir {
            var env = rayScriptEnv(dir: dir, port: state.rayPort ?? localRayPort)
            env["RAY_LISTEN"] = state.listen ?? listen
            let r = try call([script("ray.sh"), "down"], env: env)
            if r.status == 0 { lines.append("ray: stopped") } else { failures.append("ray (status \(r.status))") }
        }
        guard failures.isEmpty else {
            throw DlgError.unavailable("could not stop \(failures.joined(separator: ", ")): \(tailOfLog()); the state file stays for another down")
        }
        ClusterState.remove(dir: stateDir)
        if lines.isEmpty { lines.append("cluster: nothing started by dlg-cluster to stop") }
        return lines
    }

    /// Every host's cached packages dropped; joined hosts stopped when this `up` started the head.
    func cleanHosts(_ state: ClusterState) -> [String] {
        // A head that is gone answers nobody: no Ray client is started to wait for it.
        guard ClusterPorts.reachable(state.rayAddress) else {
            return state.rayStartedDir == nil ? [] : ["ray: the head at \(state.rayAddress) does not answer: joined hosts were not asked to stop"]
        }
        guard state.rayTokenPath != nil || state.rayStartedDir != nil, let r = try? driver(
            "cleanup", (state.rayStartedDir != nil ? ["--stop-joined"] : []) + ["--timeout", "20"], state: state,
            timeout: .seconds(60)) else { return [] }
        var lines: [String] = []
        var stopped = 0, cleaned = 0
        for o in r.events where o["component"]?.stringValue == "host" {
            let host = o["host"]?.stringValue ?? "?"
            if o["reached"]?.boolValue == true {
                cleaned += 1
                if o["stopping"]?.boolValue == true { stopped += 1 }
            } else {
                lines.append("host \(host): could not reach it (\(o["reason"]?.stringValue ?? "no answer")); stop its node there (dlg-cluster leave)")
            }
        }
        if cleaned > 0 { lines.insert("hosts: \(cleaned) cleaned of shipped packages, \(stopped) joined node(s) stopping", at: 0) }
        return lines
    }
}
