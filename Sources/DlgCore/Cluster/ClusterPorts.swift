import Foundation

/// The TCP ports a cluster off loopback opens, fixed from the head's port (scripts/ray.sh sets the same
/// ones on every node it starts, and `join` on every node it adds), so that a firewall can let exactly
/// these through between the hosts and nothing else.
public struct ClusterPorts: Sendable, Equatable {
    public let rayPort: Int
    public let pgPort: Int?

    public init(rayPort: Int, pgPort: Int?) {
        self.rayPort = rayPort
        self.pgPort = pgPort
    }

    /// Ray's fixed ports on a node: node manager, object manager, runtime-env agent, metrics, dashboard
    /// agent (gRPC and HTTP), then the range its worker processes listen on.
    public var nodeArguments: [String] {
        ["--node-manager-port", String(rayPort + 1), "--object-manager-port", String(rayPort + 2),
         "--runtime-env-agent-port", String(rayPort + 3), "--metrics-export-port", String(rayPort + 4),
         "--dashboard-agent-grpc-port", String(rayPort + 5), "--dashboard-agent-listen-port", String(rayPort + 6),
         "--min-worker-port", String(rayPort + 10), "--max-worker-port", String(rayPort + 109)]
    }

    public var nodeRange: String { "\(rayPort + 1)-\(rayPort + 6) and \(rayPort + 10)-\(rayPort + 109)" }

    public func firewallLines(listen: String) -> [String] {
        var lines = ["firewall: between the cluster's hosts only, open TCP \(rayPort) (Ray's GCS) and \(nodeRange) on \(listen)"
                     + (pgPort.map { ", \($0) (PostgreSQL)" } ?? ""),
                     "firewall: and TCP \(nodeRange) on every worker host; nothing else of the cluster needs to be reachable"]
        if pgPort == nil { lines[0] += "; the PostgreSQL of store.postgres.dsn must be reachable from every host" }
        return lines
    }

    /// Whether something accepts TCP connections at `HOST:PORT` (IPv4) within `timeoutMs`.
    public static func reachable(_ address: String, timeoutMs: Int32 = 2000) -> Bool {
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = UInt16(parts[1]) else { return false }
        let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = in_port_t(port.bigEndian)
        guard inet_pton(AF_INET, host, &to.sin_addr) == 1 else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let rc = withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if rc == 0 { return true }
        guard errno == EINPROGRESS else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        guard poll(&p, 1, timeoutMs) == 1 else { return false }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        return err == 0
    }

    public static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "localhost" || address == "::1"
    }
}

/// One host of the cluster as Ray sees it (the driver's `nodes`).
public struct ClusterHost: Sendable, Equatable {
    public let address: String
    public let alive: Bool
    public let head: Bool
    public let cpus: Double
    public let shards: Int

    init?(event o: JSONObject) {
        guard o["component"]?.stringValue == "node", let a = o["host"]?.stringValue else { return nil }
        address = a
        alive = o["alive"]?.boolValue ?? false
        head = o["head"]?.boolValue ?? false
        cpus = o["cpus"]?.doubleValue ?? 0
        shards = o["shards"]?.intValue ?? 0
    }

    var line: String {
        let cpuText = cpus == cpus.rounded() ? String(Int(cpus)) : String(cpus)
        return "host \(address)\(head ? " (head)" : ""): \(alive ? "alive" : "LOST"), \(cpuText) CPU(s), \(shards) shard(s) running"
    }
}

/// Where the Python with Ray is: given (`--python`, DLG_RAY_PYTHON), the checkout's .venv (Ray installed
/// there on first use by scripts/ray.sh), or a python3 on PATH that imports ray.
enum RayPython {
    static let version = "2.60.0"

    /// Found once per process: each look costs a Python start and an `import ray` (about a second).
    nonisolated(unsafe) private static var found: [String: String] = [:]
    private static let lock = NSLock()

    static func find(explicit: String?, scriptsDir: String, log: String) throws(DlgError) -> String {
        let key = (explicit ?? "") + "\u{0}" + scriptsDir
        if let known = lock.withLock({ found[key] }) { return known }
        let path = try look(explicit: explicit, scriptsDir: scriptsDir)
        lock.withLock { found[key] = path }
        return path
    }

    static func look(explicit: String?, scriptsDir: String) throws(DlgError) -> String {
        let given = explicit ?? ProcessInfo.processInfo.environment["DLG_RAY_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
        if let given {
            guard hasRay(given) else {
                throw DlgError.unavailable("\(given): no Ray \(version) there; install it (\(given) -m pip install 'ray==\(version)') or give another --python")
            }
            return given
        }
        let checkout = (scriptsDir as NSString).deletingLastPathComponent
        if Files.exists((checkout as NSString).appendingPathComponent("Package.swift")) {
            // A checkout: .venv, with Ray installed once by the project's script.
            let r = try? Subprocess.capture([(scriptsDir as NSString).appendingPathComponent("ray.sh"), "python"])
            if let r, r.status == 0 {
                let path = String(decoding: r.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if !path.isEmpty { return path }
            }
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate), hasRay(candidate) { return candidate }
        }
        throw DlgError.unavailable("no Python with Ray \(version) on this host: install it (pip install 'ray==\(version)') and give --python PATH (or DLG_RAY_PYTHON)")
    }

    static func hasRay(_ python: String) -> Bool {
        guard let r = try? Subprocess.capture([python, "-c", "import ray, sys; sys.exit(ray.__version__ != '\(version)')"],
                                              timeout: .seconds(60)) else { return false }
        return r.status == 0
    }
}
