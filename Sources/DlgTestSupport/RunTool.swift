// Runs a built tool (or any command) to its end with a timeout and captures stdout, stderr and status.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished command left: status, stdout, stderr. `description` dumps all of it, for the
/// message of a failed expectation.
public struct ToolResult: Sendable, CustomStringConvertible {
    public let command: [String]
    public let cwd: String?
    /// Exit status; 128 + signal number when a signal ended the process.
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// The harness killed the command because it ran past its timeout.
    public let timedOut: Bool
    public let seconds: Double

    /// stdout's non-empty lines.
    public var stdoutLines: [String] { JSONL.lines(stdout) }

    public var description: String {
        var s = "$ \(command.map(Self.quote).joined(separator: " "))\n"
        if let cwd { s += "  (in \(cwd))\n" }
        s += "exit status: \(status)\(timedOut ? " (killed after the timeout)" : "") after \(String(format: "%.1f", seconds)) s\n"
        s += "--- stdout (\(stdout.utf8.count) bytes) ---\n\(Self.clip(stdout))\n"
        s += "--- stderr (\(stderr.utf8.count) bytes) ---\n\(Self.clip(stderr))\n--- end ---"
        return s
    }

    static func quote(_ arg: String) -> String {
        if !arg.isEmpty && arg.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:@,+".contains($0) }) { return arg }
        return "'" + arg.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Long outputs keep their head and tail: enough to see what went wrong without flooding the log.
    static func clip(_ text: String, limit: Int = 12_000) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit / 2)) + "\n[... \(text.count - limit) characters left out ...]\n" + String(text.suffix(limit / 2))
    }
}

/// A scratch folder for one command's stdio files.
struct StdioFiles {
    let dir: String
    var stdin: String { dir + "/stdin" }
    var stdout: String { dir + "/stdout" }
    var stderr: String { dir + "/stderr" }

    init() throws {
        var template = Array((temporaryRoot() + "/dlg-stdio-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("cannot create a temporary folder")
        }
        dir = String(cString: p)
    }

    func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}

/// A started command whose stdout and stderr go to files; `finish` waits for it and collects them.
/// Deinit kills its process group if the test never finished it.
public final class RunningTool: @unchecked Sendable {
    public let child: ChildProcess
    let files: StdioFiles
    let cwd: String?
    let started = Date()

    /// Starts `executable`; `env` is added to the minimal `ToolEnvironment`; `stdin` nil means /dev/null.
    public init(_ executable: String, args: [String] = [], stdin: Data? = nil, env: [String: String] = [:],
                cwd: URL? = nil) throws {
        let files = try StdioFiles()
        if let stdin { _ = FileManager.default.createFile(atPath: files.stdin, contents: stdin) }
        do {
            child = try ChildProcess(executable: executable, arguments: args, environment: ToolEnvironment.make(env),
                                     cwd: cwd?.path, stdinPath: stdin == nil ? nil : files.stdin,
                                     stdoutPath: files.stdout, stderrPath: files.stderr)
        } catch {
            files.remove()
            throw error
        }
        self.files = files
        self.cwd = cwd?.path
    }

    deinit { files.remove() }

    public var isRunning: Bool { child.isRunning }
    public var stdoutText: String { files.read(files.stdout) }
    public var stderrText: String { files.read(files.stderr) }

    /// SIGKILL to the whole process group, or to the leader alone (its children then run on, orphaned,
    /// until `finish` kills what is left of the group).
    public func kill(_ signal: Int32 = SIGKILL, group: Bool = true) { child.kill(signal, group: group) }

    /// Waits for the end (killing the group after `timeout`), kills anything left in the group, and
    /// returns status, stdout and stderr.
    public func finish(timeout: Duration = .seconds(120)) async throws -> ToolResult {
        var status = try await child.wait(timeout: timeout)
        let timedOut = status == nil
        if status == nil { status = await child.killAndReap() }
        return ToolResult(command: child.command, cwd: cwd, status: status ?? -1, stdout: stdoutText,
                          stderr: stderrText, timedOut: timedOut, seconds: Date().timeIntervalSince(started))
    }
}

/// Starts the built tool `name` without waiting for it.
public func startTool(_ name: String, args: [String] = [], stdin: Data? = nil, env: [String: String] = [:],
                      cwd: URL? = nil) throws -> RunningTool {
    try RunningTool(try ToolPaths.binary(name), args: args, stdin: stdin, env: env, cwd: cwd)
}

/// Runs `executable` to its end (or kills it and its process group after `timeout`).
/// `env` is added to the minimal `ToolEnvironment`; `stdin` nil means /dev/null.
public func runProcess(_ executable: String, args: [String] = [], stdin: Data? = nil, env: [String: String] = [:],
                       cwd: URL? = nil, timeout: Duration = .seconds(120)) async throws -> ToolResult {
    try await RunningTool(executable, args: args, stdin: stdin, env: env, cwd: cwd).finish(timeout: timeout)
}

/// Runs the built tool `name` (see `ToolPaths.binary`).
public func runTool(_ name: String, args: [String] = [], stdin: Data? = nil, env: [String: String] = [:],
                    cwd: URL? = nil, timeout: Duration = .seconds(120)) async throws -> ToolResult {
    try await runProcess(try ToolPaths.binary(name), args: args, stdin: stdin, env: env, cwd: cwd, timeout: timeout)
}

/// Runs the built tool `name` with `stdin` text.
public func runTool(_ name: String, args: [String] = [], stdin: String, env: [String: String] = [:],
                    cwd: URL? = nil, timeout: Duration = .seconds(120)) async throws -> ToolResult {
    try await runTool(name, args: args, stdin: Data(stdin.utf8), env: env, cwd: cwd, timeout: timeout)
}

/// Runs `script` with `/bin/bash -o pipefail -c`, with the tools' folder first on PATH.
public func runShell(_ script: String, stdin: Data? = nil, env: [String: String] = [:], cwd: URL? = nil,
                     timeout: Duration = .seconds(120)) async throws -> ToolResult {
    var e = env
    e["PATH"] = ToolPaths.binDir.path + ":" + (ToolEnvironment.make()["PATH"] ?? "/usr/bin:/bin")
    return try await runProcess("/bin/bash", args: ["-o", "pipefail", "-c", script], stdin: stdin, env: e, cwd: cwd,
                                timeout: timeout)
}
