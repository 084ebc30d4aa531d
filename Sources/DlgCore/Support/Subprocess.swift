import Foundation

/// A child process: started once, waited for without spinning. Foundation's `waitUntilExit` polls a
/// run loop that has no sources here and keeps a CPU busy for as long as the child runs, so every
/// wait goes through a termination handler and a dispatch group instead. The one way the core spawns
/// a program: the stage loop, the judge-only pass and pdftotext.
public final class Subprocess: @unchecked Sendable {
    /// The program's file name, for messages.
    public let name: String
    private let process = Process()
    private let exited = DispatchGroup()

    /// `standardInput`/`standardOutput`/`standardError` take what `Process` takes: a `Pipe`, a
    /// `FileHandle`, or nil to inherit the parent's.
    public init(_ arguments: [String], environment: [String: String]? = nil,
                standardInput: Any? = nil, standardOutput: Any? = nil, standardError: Any? = nil) {
        name = (arguments[0] as NSString).lastPathComponent
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if let environment { process.environment = environment }
        if let standardInput { process.standardInput = standardInput }
        if let standardOutput { process.standardOutput = standardOutput }
        if let standardError { process.standardError = standardError }
        exited.enter()
        process.terminationHandler = { [exited] _ in exited.leave() }
    }

    public var standardInput: Any? { process.standardInput }
    public var standardOutput: Any? { process.standardOutput }

    /// Starts the program; a program that cannot be started is `unavailable` (69).
    public func start() throws(DlgError) {
        // A child inherits the calling thread's signal mask, and the threads of Swift's concurrency pool
        // and of dispatch run with SIGTERM and SIGINT blocked: a child started from one would ignore
        // `terminate()`. Spawn with an empty mask; the thread gets its own back at once.
        var empty = sigset_t(), previous = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        do { try process.run() } catch {
            exited.leave()
            throw DlgError.unavailable("cannot start \(name): \(error.localizedDescription)")
        }
    }

    public var isRunning: Bool { process.isRunning }

    /// SIGTERM, when still running.
    public func terminate() { if process.isRunning { process.terminate() } }

    /// Waits for the exit; the exit status (or 128 + the signal that ended it).
    @discardableResult
    public func wait() -> Int32 {
        exited.wait()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Runs `arguments` to the end with stdin from /dev/null; its status, stdout and stderr. Both
    /// outputs are read before waiting, so a child that writes a lot never blocks on a full pipe.
    public static func capture(_ arguments: [String]) throws(DlgError) -> (status: Int32, output: Data, errors: Data) {
        let out = Pipe(), err = Pipe()
        let child = Subprocess(arguments, standardInput: FileHandle.nullDevice, standardOutput: out, standardError: err)
        try child.start()
        // stderr on its own thread: a child that fills stderr while we read stdout would block forever.
        let errors = ErrorsBox()
        let errorsRead = DispatchGroup()
        errorsRead.enter()
        DispatchQueue.global().async {
            errors.data = err.fileHandleForReading.readDataToEndOfFile()
            errorsRead.leave()
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        errorsRead.wait()
        return (child.wait(), output, errors.data)
    }
}

/// Written by one thread before the group is left, read after the wait.
private final class ErrorsBox: @unchecked Sendable {
    var data = Data()
}
