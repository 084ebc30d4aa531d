// A child process for tests: posix_spawn into its own process group, stdio from and to files,
// polled without blocking the cooperative thread pool, killed with its whole group on every path.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One spawned process. It leads its own process group, so `kill(group: true)` also reaches what it
/// started (dlg-run's pipeline stages, the commands of a `bash -c` pipe). Deinit kills the group and
/// reaps the leader if the test did not, so a failing test never leaves a process behind.
public final class ChildProcess: @unchecked Sendable {
    /// The process id, which is also its process group id.
    public let pid: pid_t
    /// The command line, for messages.
    public let command: [String]
    private let lock = NSLock()
    private var status: Int32?

    /// Starts `executable` with `arguments`, exactly `environment` (nothing inherited), in `cwd`;
    /// stdin from `stdinPath` (or /dev/null), stdout and stderr to the given files (created or truncated).
    public init(executable: String, arguments: [String], environment: [String: String], cwd: String?,
                stdinPath: String?, stdoutPath: String, stderrPath: String) throws {
        command = [executable] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinPath ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Descriptors other tests left without O_CLOEXEC must not leak into the child (a leaked pipe
        // end would keep another test's reader waiting for EOF).
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        if let cwd {
            guard let chdir = Self.addChdir else { throw HarnessError("posix_spawn_file_actions_addchdir_np is not available") }
            _ = chdir(&actions, cwd)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Own process group; default signal actions (the test runner may ignore SIGPIPE, and ignored
        // signals are inherited); nothing blocked.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)

        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { a in
            envp.withUnsafeBufferPointer { e in
                posix_spawn(&child, executable, &actions, &attributes, a.baseAddress!, e.baseAddress!)
            }
        }
        guard rc == 0 else {
            throw HarnessError("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    deinit {
        if lock.withLock({ status == nil }) {
            Glibc.kill(-pid, SIGKILL)
            Glibc.kill(pid, SIGKILL)
            var st: Int32 = 0
            _ = waitpid(pid, &st, 0)
        }
    }

    /// The exit status once the process has ended (128 + signal number when a signal ended it),
    /// else nil. The leader is reaped only after anything left in its group was killed, while its
    /// pid (the group id) cannot yet be reused.
    public func poll(killLeftovers: Bool = true) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let status { return status }
        var info = siginfo_t()
        let r = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        guard r == 0, info.si_signo == SIGCHLD else { return nil }
        if killLeftovers { Glibc.kill(-pid, SIGKILL) }
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
        let s = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
        status = s
        return s
    }

    /// Whether the process is still running (not yet exited).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if status != nil { return false }
        var info = siginfo_t()
        let r = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        return !(r == 0 && info.si_signo == SIGCHLD)
    }

    /// Sends `signal` to the process, or to its whole process group.
    public func kill(_ signal: Int32 = SIGKILL, group: Bool = true) {
        // Once reaped, the pid (and group id) may belong to someone else.
        if lock.withLock({ status != nil }) { return }
        Glibc.kill(group ? -pid : pid, signal)
    }

    /// Waits up to `timeout` for the process to end; nil if it is still running then.
    /// Cancellation kills the group and rethrows.
    public func wait(timeout: Duration, killLeftovers: Bool = true) async throws -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var pause = Duration.milliseconds(2)
        while true {
            if let s = poll(killLeftovers: killLeftovers) { return s }
            if clock.now >= deadline { return nil }
            do {
                try await Task.sleep(for: pause)
            } catch {
                kill(SIGKILL)
                _ = try? await wait(timeout: .seconds(5))
                throw error
            }
            pause = min(pause * 2, .milliseconds(25))
        }
    }

    /// Kills the group with SIGKILL and reaps the leader; returns its status.
    @discardableResult
    public func killAndReap() async -> Int32 {
        kill(SIGKILL)
        while true {
            if let s = poll() { return s }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    // glibc has these, but Swift's Glibc module does not import them: look them up at run time.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    private static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let p = dlsym(handle, name) else { return nil }
        return unsafeBitCast(p, to: T.self)
    }
}

/// The environment tools run with: a minimal one, so that variables of the developer's or CI's shell
/// (LLM_BASE_URL, OPENAI_API_KEY, BATCH_SIZE, JUDGE_MODE... all override the config) never change
/// what a test sees. Tests add what they mean to set.
public enum ToolEnvironment {
    public static func make(_ extra: [String: String] = [:]) -> [String: String] {
        let parent = ProcessInfo.processInfo.environment
        var env: [String: String] = ["LANG": "C.UTF-8", "PATH": parent["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
        // The sanitizer settings of make test-asan reach the tools it runs.
        for key in ["HOME", "TMPDIR", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS"] {
            if let v = parent[key] { env[key] = v }
        }
        for (k, v) in extra { env[k] = v }
        return env
    }
}
