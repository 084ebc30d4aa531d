import Foundation

/// `dlg-cluster join` on a worker host: no checkout, no config, only an installed dlg-cluster and a
/// Python with Ray. It checks the host against what the head will ship (architecture, glibc: the
/// manifest `up` published in Ray's key-value store), then starts a Ray worker node that connects to the
/// head, with its ports fixed from the head's (ClusterPorts) and its own temp and cache folders, recorded
/// in `<stateDir>/join.json` before it starts so that `leave` (here) or the head's `down` can stop it.
/// The Ray token comes from a 0600 file or the environment and is never printed.
public struct ClusterJoin: Sendable {
    public let headAddress: String
    public var nodeIP: String?
    public var cpus: Int?
    public var python: String?
    public var tokenFile: String?
    /// Where cluster_driver.py is (share/dlgforge of the install, or a checkout's scripts/).
    public var scriptsDir: String
    public let stateDir: String

    public init(headAddress: String, stateDir: String, scriptsDir: String) {
        self.headAddress = headAddress
        self.stateDir = stateDir
        self.scriptsDir = scriptsDir
    }

    /// What `join` started, for `leave`.
    struct State: Codable {
        var address: String
        var nodeIP: String
        var tempDir: String
        var cacheDir: String
    }

    static func statePath(_ dir: String) -> String { (dir as NSString).appendingPathComponent("join.json") }
    var logPath: String { (stateDir as NSString).appendingPathComponent("join.log") }

    public func join() throws(DlgError) -> [String] {
        let parts = headAddress.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
            throw DlgError(.usage, "--address \(headAddress): expected HOST:PORT of the Ray head (dlg-cluster up prints it)")
        }
        let head = String(parts[0])
        if let old = Self.loadState(stateDir), !ProcessScan.processes(under: old.tempDir).isEmpty {
            throw DlgError(.usage, "this host already joined \(old.address) as \(old.nodeIP) (state in \(Self.statePath(stateDir))); leave first")
        }
        let py = try RayPython.find(explicit: python, scriptsDir: scriptsDir, log: logPath)
        var env = try tokenEnvironment()
        env["RAY_ADDRESS"] = headAddress
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        let ip: String
        if let nodeIP { ip = nodeIP } else { ip = try Self.localAddress(toward: head, port: port) }
        var lines = try checkHost(python: py, env: env)
        try Files.makeDirectory(stateDir)
        chmod(stateDir, 0o700)
        var template = Array("/tmp/dlgray-w-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw DlgError.io("/tmp: cannot make Ray's temp folder") }
        let state = State(address: headAddress, nodeIP: ip, tempDir: String(cString: made),
                          cacheDir: (stateDir as NSString).appendingPathComponent("cache"))
        try Self.save(state, stateDir)
        env["DLG_WORKER_CACHE"] = state.cacheDir
        env["DLG_JOINED_TEMP_DIR"] = state.tempDir
        // In a session of its own (setsid): the node must outlive whatever ends this command's process
        // group or session (a closed ssh session, a test harness).
        var args = (Files.exists("/usr/bin/setsid") ? ["/usr/bin/setsid", "-w"] : []) + [py, "-m", "ray.scripts.scripts", "start", "--address", headAddress, "--node-ip-address", ip,
                    "--temp-dir", state.tempDir, "--disable-usage-stats"]
        if let cpus { args += ["--num-cpus", String(cpus)] }
        if !ClusterPorts.isLoopback(head) { args += ClusterPorts(rayPort: port, pgPort: nil).nodeArguments }
        var full = ProcessInfo.processInfo.environment
        for (k, v) in env { full[k] = v }
        let r = try Subprocess.capture(args, timeout: .seconds(120), environment: full)
        let log = String(decoding: r.output + r.errors, as: UTF8.self)
        try? Files.writeAtomically(Redact.text(log), to: logPath, durable: false)
        guard r.status == 0 else {
            _ = try? Self.leave(stateDir: stateDir)
            let tail = Redact.text(log.split(separator: "\n").suffix(4).joined(separator: " | "))
            throw DlgError.unavailable("the Ray node did not start (status \(r.status)): \(tail); whole log in \(logPath)")
        }
        lines.append("joined \(headAddress) as \(ip)\(cpus.map { " with \($0) CPU(s)" } ?? ""); Ray's temp folder \(state.tempDir), shipped packages cached in \(state.cacheDir)")
        lines.append("stop this node with: dlg-cluster leave (or the head's down)")
        return lines
    }

    /// RAY_AUTH_TOKEN_PATH for a token file (refused when others may read it), or the token the
    /// environment already carries.
    func tokenEnvironment() throws(DlgError) -> [String: String] {
        var env = ["RAY_AUTH_MODE": "token"]
        let mine = ProcessInfo.processInfo.environment
        if let file = tokenFile ?? mine["RAY_AUTH_TOKEN_PATH"].flatMap({ $0.isEmpty ? nil : $0 }) {
            var st = stat()
            guard stat(file, &st) == 0 else { throw DlgError(.noInput, "\(file): the Ray token file does not exist") }
            guard st.st_mode & 0o077 == 0 else {
                throw DlgError.config("\(file): the Ray token file may be read by others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it")
            }
            env["RAY_AUTH_TOKEN_PATH"] = file
        } else if mine["RAY_AUTH_TOKEN"].map({ !$0.isEmpty }) != true {
            throw DlgError(.usage, "no Ray token: copy the head's <state>/ray/auth_token here (mode 0600) and give --token-file, or set RAY_AUTH_TOKEN")
        }
        return env
    }

    /// This host against the tools the head will ship: refused with the reasons, or a line about it.
    func checkHost(python: String, env: [String: String]) throws(DlgError) -> [String] {
        let driver = (scriptsDir as NSString).appendingPathComponent("cluster_driver.py")
        guard Files.exists(driver) else { return ["host: not checked (no \(driver))"] }
        var full = ProcessInfo.processInfo.environment
        for (k, v) in env { full[k] = v }
        let r = try Subprocess.capture([python, driver, "check-host"], timeout: .seconds(90), environment: full)
        let events = String(decoding: r.output, as: UTF8.self).split(separator: "\n").compactMap { (try? JSONCodec.parse(String($0)))?.objectValue }
        guard let o = events.first(where: { $0["component"]?.stringValue == "host" }) else {
            let why = String(decoding: r.errors, as: UTF8.self).split(separator: "\n").suffix(2).joined(separator: " | ")
            throw DlgError.unavailable("cannot reach the Ray head at \(headAddress) to check this host: \(Redact.text(why))")
        }
        let problems = (o["problems"]?.arrayValue ?? []).compactMap(\.stringValue)
        guard problems.isEmpty else {
            throw DlgError.unavailable("this host cannot run the cluster's tools: \(problems.joined(separator: "; "))")
        }
        return ["host: \(o["arch"]?.stringValue ?? "?"), \(o["glibc"]?.stringValue ?? "glibc ?"): fits the tools the head ships"]
    }

    /// The address of this host that packets to `head` leave from (a UDP connect sends nothing).
    static func localAddress(toward head: String, port: Int) throws(DlgError) -> String {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, head, &to.sin_addr) == 1 else {
            throw DlgError(.usage, "--address \(head): give the head's IPv4 address (and --node-ip for this host)")
        }
        var me = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &to) { t in
            t.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        } && withUnsafeMutablePointer(to: &me) { m in
            m.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw DlgError.unavailable("no route to the Ray head at \(head)") }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &me.sin_addr, &text, socklen_t(INET_ADDRSTRLEN))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func loadState(_ dir: String) -> State? {
        guard let data = FileManager.default.contents(atPath: statePath(dir)) else { return nil }
        return try? JSONDecoder().decode(State.self, from: data)
    }

    static func save(_ state: State, _ dir: String) throws(DlgError) {
        guard let data = try? JSONEncoder().encode(state) else { throw DlgError.io("cannot encode the join state") }
        try Files.writeSecret(String(decoding: data, as: UTF8.self), to: statePath(dir))
    }

    /// Stops the node `join` started here (its processes found by its temp folder) and removes its folders.
    public static func leave(stateDir: String) throws(DlgError) -> [String] {
        guard let state = loadState(stateDir) else { return ["nothing joined from here (no \(statePath(stateDir)))"] }
        let stopped = ProcessScan.stop(ProcessScan.processes(under: state.tempDir))
        try? FileManager.default.removeItem(atPath: state.tempDir)
        try? FileManager.default.removeItem(atPath: state.cacheDir)
        try? FileManager.default.removeItem(atPath: statePath(stateDir))
        return ["left \(state.address): \(stopped) process(es) of this host's Ray node stopped"]
    }
}

/// Processes found by a folder they use: Ray names its temp folder on its command lines, and its agents,
/// which rename themselves, hold log files open below it.
enum ProcessScan {
    static func processes(under path: String) -> [pid_t] {
        guard !path.isEmpty, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let me = getpid()
        var out: [pid_t] = []
        for name in entries {
            guard let pid = pid_t(name), pid != me else { continue }
            let cmdline = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") ?? Data()
            if cmdline.range(of: Data(path.utf8)) != nil { out.append(pid); continue }
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(name)/fd")) ?? []
            if fds.contains(where: { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(name)/fd/\($0)")) ?? "").hasPrefix(path) }) {
                out.append(pid)
            }
        }
        return out
    }

    /// SIGTERM, up to 10 s for them to go, then SIGKILL; how many there were.
    static func stop(_ pids: [pid_t]) -> Int {
        for p in pids { kill(p, SIGTERM) }
        for _ in 0..<50 where pids.contains(where: { kill($0, 0) == 0 && !isZombie($0) }) { usleep(200_000) }
        for p in pids where kill(p, 0) == 0 { kill(p, SIGKILL) }
        return pids.count
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }
}
