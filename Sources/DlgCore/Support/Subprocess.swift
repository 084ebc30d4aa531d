// Child processes on posix_spawn, each reaped by one waitpid on a thread of its own.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process: started once, reaped exactly once, waited for without spinning. The one way the core
/// spawns a program: the stage loop, the judge-only pass, pdftotext and dlg-cluster's scripts.
///
/// Foundation's `Process` was seen to miss a child's exit on Linux (`dlg-cluster up` hung on a zombie
/// nobody reaped, and the wait held a thread of the cooperative pool). Here a plain thread started
/// right after the spawn does the one `waitpid` of the child and wakes every waiter, synchronous
/// (`wait()`) or asynchronous (`exitStatus()`); a child is reaped even if nobody ever waits for it.
public final class Subprocess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum IO: Sendable {
        /// The parent's own stream.
        case inherit
        /// `/dev/null`.
        case null
        /// This descriptor of the parent; the caller still owns it (and closes it after `start()`).
        case fd(Int32)
        /// A new pipe; the parent's end is `standardInput`, `standardOutput` or `standardError` once started.
        case pipe

        /// `handle`'s descriptor; `FileHandle.nullDevice`, which has none, is `/dev/null`.
        public static func handle(_ handle: FileHandle) -> IO {
            handle === FileHandle.nullDevice || handle.fileDescriptor < 0 ? .null : .fd(handle.fileDescriptor)
        }
    }

    /// The program's file name, for messages.
    public let name: String
    /// The program's path (run as given: relative to `cwd` when relative, no PATH search) and its arguments.
    public let arguments: [String]
    private let environment: [String: String]?
    private let cwd: String?
    private let newProcessGroup: Bool
    private let stdio: [IO]

    /// The parent's ends of the `.pipe` streams, set by `start()`; they close when released.
    private var ends: [FileHandle?] = [nil, nil, nil]
    /// The parent's end of a `.pipe` stdin (write to it, close it for EOF); nil for the other kinds.
    public var standardInput: FileHandle? { ends[0] }
    /// The parent's end of a `.pipe` stdout; nil for the other kinds.
    public var standardOutput: FileHandle? { ends[1] }
    /// The parent's end of a `.pipe` stderr; nil for the other kinds.
    public var standardError: FileHandle? { ends[2] }

    /// Guards everything below; waiters of `wait()` sleep on it.
    private let state = NSCondition()
    private var started = false
    private var childPID: pid_t = 0
    private var status: Int32?
    private var awaiting: [CheckedContinuation<Int32, Never>] = []

    /// `environment` nil inherits this process's; `cwd` nil keeps this process's; `newProcessGroup` makes
    /// the child lead a group of its own, which `kill(signal:)` and `terminate()` then signal whole.
    public init(_ arguments: [String], environment: [String: String]? = nil, cwd: String? = nil,
                standardInput: IO = .inherit, standardOutput: IO = .inherit, standardError: IO = .inherit,
                newProcessGroup: Bool = false) {
        precondition(!arguments.isEmpty, "Subprocess needs a program")
        self.arguments = arguments
        name = (arguments[0] as NSString).lastPathComponent
        self.environment = environment
        self.cwd = cwd
        self.newProcessGroup = newProcessGroup
        stdio = [standardInput, standardOutput, standardError]
    }

    /// The child's process id once started (0 before).
    public var pid: pid_t { state.withLock { childPID } }

    /// Started and not yet reaped.
    public var isRunning: Bool { state.withLock { childPID > 0 && status == nil } }

    /// A pipe whose both ends are close-on-exec: a child gets an end only through a `dup2` of its own.
    public static func makePipe() throws(DlgError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        // Without pipe2 the ends are marked afterwards: a spawn in between still closes them (closefrom).
        let made = fds.withUnsafeMutableBufferPointer { p in
            if let pipe2 = Self.pipe2 { return pipe2(p.baseAddress!, O_CLOEXEC) }
            guard pipe(p.baseAddress!) == 0 else { return -1 }
            for fd in p { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return 0
        }
        guard made == 0 else { throw DlgError.io("cannot make a pipe: \(Self.errorText(errno))") }
        return (fds[0], fds[1])
    }

    /// Starts the program and the thread that reaps it. A program that cannot be started is
    /// `unavailable` (69), its path in the message; `wait()` then returns 127 at once.
    public func start() throws(DlgError) {
        state.withLock {
            precondition(!started, "\(name): start() called twice")
            started = true
        }
        do throws(DlgError) {
            let pid = try spawn()
            state.withLock { childPID = pid }
            guard OwnThread.detach(stackSize: 256 << 10, { [self] in reap(pid) }) else {
                // No thread to reap it: end it here rather than leave a child nobody waits for.
                Glibc.kill(pid, SIGKILL)
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
                finish(Self.decode(raw))
                throw DlgError.unavailable("cannot start a thread to wait for \(name); killed it")
            }
        } catch {
            ends = [nil, nil, nil]
            if state.withLock({ status == nil }) { finish(127) }
            throw error
        }
    }

    /// Sends `signal` to the child (to its whole group with `newProcessGroup`), only while it is not yet
    /// reaped: the reaper takes the same lock, so a pid that may already belong to another process is never signalled.
    public func kill(signal: Int32) {
        state.withLock {
            guard childPID > 0, status == nil else { return }
            _ = Glibc.kill(newProcessGroup ? -childPID : childPID, signal)
        }
    }

    /// SIGTERM, while the child runs.
    public func terminate() { kill(signal: SIGTERM) }

    /// Blocks until the child has been reaped; its exit status, or 128 + the signal that ended it.
    @discardableResult
    public func wait() -> Int32 {
        state.withLock {
            precondition(started, "\(name): wait() before start()")
            while status == nil { state.wait() }
            return status!
        }
    }

    /// Suspends until the child has been reaped (any number of tasks may await it); the status as `wait()`.
    /// Holds no thread while waiting; cancellation does not end the wait (`terminate()` does).
    public func exitStatus() async -> Int32 {
        await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            state.lock()
            precondition(started, "\(name): exitStatus() before start()")
            if let status {
                state.unlock()
                done.resume(returning: status)
            } else {
                awaiting.append(done)
                state.unlock()
            }
        }
    }

    /// `wait()` up to `deadline`; nil if the child still runs then.
    func wait(until deadline: ContinuousClock.Instant?) -> Int32? {
        guard let deadline else { return wait() }
        return state.withLock {
            while status == nil {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { return nil }
                _ = state.wait(until: Date(timeIntervalSinceNow: Self.seconds(left)))
            }
            return status
        }
    }

    // MARK: capture

    /// Runs `arguments` to the end with stdin from /dev/null; its status, stdout and stderr, both read
    /// at once so a child that fills one pipe never blocks. Past `timeout` the child is killed (SIGKILL)
    /// and `tempFail` (75) thrown; more than `maxOutputBytes` on stdout or on stderr kills it and throws
    /// `data` (65). Either way the child is reaped before the error is thrown.
    public static func capture(_ arguments: [String], timeout: Duration? = nil, maxOutputBytes: Int? = nil,
                               environment: [String: String]? = nil, cwd: String? = nil) throws(DlgError)
        -> (status: Int32, output: Data, errors: Data) {
        try capture(arguments, timeout: timeout, maxOutputBytes: maxOutputBytes, environment: environment, cwd: cwd,
                    started: nil)
    }

    /// `capture` with its blocking part on a thread of its own, so the cooperative pool is not held.
    public static func captureAsync(_ arguments: [String], timeout: Duration? = nil, maxOutputBytes: Int? = nil,
                                    environment: [String: String]? = nil, cwd: String? = nil) async throws(DlgError)
        -> (status: Int32, output: Data, errors: Data) {
        let result = await OwnThread.run {
            Result { () throws(DlgError) in
                try capture(arguments, timeout: timeout, maxOutputBytes: maxOutputBytes, environment: environment, cwd: cwd)
            }
        }
        return try result.get()
    }

    /// `capture`; `started` hears the child's pid (tests check it is gone after a timeout).
    static func capture(_ arguments: [String], timeout: Duration?, maxOutputBytes: Int?, environment: [String: String]?,
                        cwd: String?, started: ((pid_t) -> Void)?) throws(DlgError) -> (status: Int32, output: Data, errors: Data) {
        let child = Subprocess(arguments, environment: environment, cwd: cwd,
                               standardInput: .null, standardOutput: .pipe, standardError: .pipe)
        try child.start()
        started?(child.pid)
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let timedOut = DlgError(.tempFail, "\(child.name) did not finish within \(timeout.map(Self.durationText) ?? ""); killed it")
        do throws(DlgError) {
            let (output, errors) = try child.drain(deadline: deadline, cap: maxOutputBytes, timedOut: timedOut)
            // Both pipes have ended, but the child may still run (it closed them early): the limit holds here too.
            guard let status = child.wait(until: deadline) else { throw timedOut }
            return (status, output, errors)
        } catch {
            child.kill(signal: SIGKILL)
            child.ends = [nil, nil, nil]
            child.wait()
            throw error
        }
    }

    /// Reads stdout and stderr to their ends in one poll(2) loop on the calling thread.
    private func drain(deadline: ContinuousClock.Instant?, cap: Int?, timedOut: DlgError) throws(DlgError) -> (Data, Data) {
        guard let out = standardOutput, let err = standardError else { preconditionFailure("drain needs both pipes") }
        var fds = [out.fileDescriptor, err.fileDescriptor].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var data = [Data(), Data()]
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while fds.contains(where: { $0.fd >= 0 }) {
            var wait: Int32 = -1
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline)
                if left <= .zero { throw timedOut }
                wait = Int32(clamping: Int(Self.seconds(left) * 1000) + 1)
            }
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 && errno != EINTR { throw DlgError.io("\(name): poll: \(Self.errorText(errno))") }
            // Nothing ready (or interrupted): revents may be stale, and a read would block.
            if ready <= 0 { continue }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n < 0 { throw DlgError.io("\(name): reading its \(i == 0 ? "stdout" : "stderr"): \(Self.errorText(errno))") }
                // A negative descriptor is skipped by poll: the stream has ended.
                if n == 0 { fds[i].fd = -1; continue }
                data[i].append(buffer, count: n)
                if let cap, data[i].count > cap {
                    throw DlgError.data("\(name) wrote more than \(Self.bytesText(cap)) to \(i == 0 ? "stdout" : "stderr"); killed it")
                }
            }
        }
        return (data[0], data[1])
    }

    // MARK: spawning and reaping

    /// posix_spawn with the file actions of `stdio` and `cwd`; the child's pid.
    private func spawn() throws(DlgError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Descriptors the parent closes once the child has its copies (the child's pipe ends, temporaries).
        var closeAfter: [Int32] = []
        defer { for fd in closeAfter { close(fd) } }
        var parentEnds: [Int32?] = [nil, nil, nil]
        var ok = false
        defer { if !ok { for case let fd? in parentEnds { close(fd) } } }
        for (target, io) in stdio.enumerated() {
            let target = Int32(target)
            var rc: Int32 = 0
            switch io {
            case .inherit:
                break
            case .null:
                rc = posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .fd(let fd) where fd == target:
                break
            case .fd(var fd):
                // A source among 0...2 could be overwritten by an earlier dup2: give it a higher number first.
                if fd >= 0 && fd < 3 {
                    fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)
                    guard fd >= 0 else { throw DlgError.io("\(name): cannot duplicate a descriptor: \(Self.errorText(errno))") }
                    closeAfter.append(fd)
                }
                rc = posix_spawn_file_actions_adddup2(&actions, fd, target)
            case .pipe:
                let (r, w) = try Self.makePipe()
                parentEnds[Int(target)] = target == 0 ? w : r
                closeAfter.append(target == 0 ? r : w)
                rc = posix_spawn_file_actions_adddup2(&actions, target == 0 ? r : w, target)
            }
            // A bad descriptor is refused here; ignored, the child would silently keep the parent's stream.
            guard rc == 0 else { throw DlgError(.software, "\(name): cannot set up its fd \(target) (\(io)): \(Self.errorText(rc))") }
        }
        // Whatever this process opened without O_CLOEXEC (a library, another thread's pipe) stays out of the child.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        if let cwd {
            guard let chdir = Self.addChdir else { throw DlgError(.software, "\(name): posix_spawn cannot change folder here") }
            _ = chdir(&actions, cwd)
        }
        let pid = try spawn(&actions)
        ok = true
        ends = parentEnds.map { $0.map { FileHandle(fileDescriptor: $0, closeOnDealloc: true) } }
        return pid
    }

    /// posix_spawn itself: the attributes, argv and envp.
    private func spawn(_ actions: inout posix_spawn_file_actions_t) throws(DlgError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The threads of Swift's pool and of dispatch run with SIGTERM and SIGINT blocked, and a child
        // inherits the mask: it would ignore `terminate()`. Ignored signals are inherited too (dlg-run
        // ignores SIGPIPE): the child starts with nothing blocked and every action at its default.
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup { flags |= POSIX_SPAWN_SETPGROUP }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { env in
            env.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer {
            for p in argv { free(p) }
            for p in envp ?? [] { free(p) }
        }
        var pid: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { a in
            if let envp {
                return envp.withUnsafeBufferPointer { e in posix_spawn(&pid, arguments[0], &actions, &attributes, a.baseAddress!, e.baseAddress!) }
            }
            return posix_spawn(&pid, arguments[0], &actions, &attributes, a.baseAddress!, environ)
        }
        guard rc == 0 else {
            throw DlgError.unavailable("cannot start \(arguments[0])\(cwd.map { " in \($0)" } ?? ""): \(Self.errorText(rc))")
        }
        return pid
    }

    /// The reaper's body: waits for the exit without reaping, then reaps under the lock that `kill` takes.
    private func reap(_ pid: pid_t) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        state.lock()
        var raw: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &raw, 0) } while reaped < 0 && errno == EINTR
        state.unlock()
        // Only when something else in this process reaped it first (SIGCHLD ignored): the status is lost.
        finish(reaped == pid ? Self.decode(raw) : 255)
    }

    /// Records the status and wakes every waiter.
    private func finish(_ value: Int32) {
        state.lock()
        status = value
        let waiters = awaiting
        awaiting = []
        state.broadcast()
        state.unlock()
        for w in waiters { w.resume(returning: value) }
    }

    /// A `waitpid` status as a shell reports it: the exit code, or 128 + the signal.
    static func decode(_ raw: Int32) -> Int32 { (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f) }

    // MARK: helpers

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)).lowercased() }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// "60 s", "0.25 s".
    static func durationText(_ d: Duration) -> String {
        let s = seconds(d)
        return s == s.rounded() ? "\(Int(s)) s" : "\((s * 1000).rounded() / 1000) s"
    }

    /// "64 MiB" for whole mebibytes, else "1000 bytes".
    static func bytesText(_ n: Int) -> String { n > 0 && n % (1 << 20) == 0 ? "\(n >> 20) MiB" : "\(n) bytes" }

    // glibc has these, but Swift's Glibc module does not import them (pipe2 needs _GNU_SOURCE): look them up at run time.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    private static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    private static let pipe2: Pipe2? = symbol("pipe2")

    private static func symbol<T>(_ name: String) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let p = dlsym(handle, name) else { return nil }
        return unsafeBitCast(p, to: T.self)
    }
}
