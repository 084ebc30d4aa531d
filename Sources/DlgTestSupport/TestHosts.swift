// The test hosts (scripts/testhosts.sh): Linux network namespaces on a private bridge, made by `make
// test` (scripts/services/hosts.sh) as h0 10.231.7.1, h1 .2, h2 .3. A worker host (h1, h2) run with
// `hidden` sees neither the checkout nor the test's /tmp, as a machine that shares only a network.

import Foundation

public enum TestHosts {
    /// The hosts' addresses, h0 first; empty when the hosts were not made.
    public static let addresses: [String] = (ProcessInfo.processInfo.environment["DLG_TEST_HOSTS"] ?? "")
        .split(separator: " ").map(String.init)
    public static var available: Bool { addresses.count >= 3 }
    /// Why the hosts are missing, as scripts/services/hosts.sh found it.
    public static var howTo: String {
        let why = ProcessInfo.processInfo.environment["DLG_TEST_HOSTS_MISSING"] ?? "DLG_TEST_HOSTS is not set"
        return "the multi-host tests need test hosts (network namespaces): \(why); make test makes them as root with iproute2 (scripts/testhosts.sh up)"
    }

    public static var script: String {
        ProcessInfo.processInfo.environment["DLG_TEST_HOSTS_SCRIPT"] ?? ToolPaths.packageRoot.appendingPathComponent("scripts/testhosts.sh").path
    }
    /// What worker hosts may see: Ray's Python, the installed tools, files the test puts there.
    public static var dir: String { ProcessInfo.processInfo.environment["DLG_TEST_HOSTS_DIR"] ?? "/var/lib/dlgforge-testhosts" }
    public static var rayPython: String { dir + "/ray-venv/bin/python" }
    public static var prefix: String { dir + "/prefix" }

    private static let installLock = NSLock()
    nonisolated(unsafe) private static var installed = false

    /// `make install` of the built tools into `prefix` (outside the checkout), once per test process:
    /// what a worker host runs `dlg-cluster join` from.
    public static func installTools() async throws -> String {
        if installLock.withLock({ installed }) { return prefix + "/bin" }
        let r = try await runProcess(ToolPaths.packageRoot.appendingPathComponent("scripts/install.sh").path,
                                     args: ["install", ToolPaths.binDir.path, prefix], env: ["PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"],
                                     cwd: ToolPaths.packageRoot, timeout: .seconds(300))
        guard r.status == 0 else { throw HarnessError("installing the tools for the test hosts failed\n\(r)") }
        installLock.withLock { installed = true }
        return prefix + "/bin"
    }

    static func command(_ host: Int, hidden: Bool, _ args: [String]) -> [String] {
        [script, hidden ? "exec" : "netexec", String(host)] + args
    }

    /// Runs `args` on host `host` to its end.
    public static func run(_ host: Int, hidden: Bool = false, _ args: [String], env: [String: String] = [:], cwd: URL? = nil,
                           timeout: Duration = .seconds(300)) async throws -> ToolResult {
        let c = command(host, hidden: hidden, args)
        return try await runProcess(c[0], args: Array(c.dropFirst()), env: withPath(env), cwd: cwd, timeout: timeout)
    }

    /// Starts `args` on host `host` (a server, a run to kill mid-way).
    public static func start(_ host: Int, hidden: Bool = false, _ args: [String], env: [String: String] = [:], cwd: URL? = nil) throws -> RunningTool {
        let c = command(host, hidden: hidden, args)
        return try RunningTool(c[0], args: Array(c.dropFirst()), stdin: nil, env: withPath(env), cwd: cwd)
    }

    /// Every process of host `host` killed at once: the host is lost.
    public static func lose(_ host: Int) async throws {
        _ = try await runProcess(script, args: ["kill", String(host)], env: withPath([:]), timeout: .seconds(30))
    }

    /// The processes on host `host` (their command lines).
    public static func processes(_ host: Int) async throws -> [String] {
        let r = try await runProcess(script, args: ["pids", String(host)], env: withPath([:]), timeout: .seconds(30))
        return r.stdout.split(separator: "\n").compactMap { pid -> String? in
            guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !raw.isEmpty else { return nil }
            if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), stat.contains(") Z ") { return nil }
            return "\(pid): " + String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        }
    }

    static func withPath(_ env: [String: String]) -> [String: String] {
        var e = env
        if e["PATH"] == nil { e["PATH"] = ToolPaths.binDir.path + ":/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" }
        return e
    }
}
