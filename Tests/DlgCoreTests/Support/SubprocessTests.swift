// The one way the core runs a program: posix_spawn, one reaper thread per child, capture with limits.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SubprocessTests {
    // MARK: capture

    @Test func captureReturnsStatusStdoutAndStderr() throws {
        let r = try Subprocess.capture(["/bin/sh", "-c", "printf out; printf err >&2; exit 3"])
        #expect(r.status == 3)
        #expect(String(decoding: r.output, as: UTF8.self) == "out")
        #expect(String(decoding: r.errors, as: UTF8.self) == "err")
    }

    @Test func aChildThatFillsBothPipesDoesNotBlock() throws {
        // Well over a pipe's 64 KiB on each stream: stderr first, then both at once.
        let r = try Subprocess.capture(["/bin/sh", "-c", "head -c 300000 /dev/zero >&2; head -c 200000 /dev/zero; exit 0"])
        #expect(r.status == 0)
        #expect(r.output.count == 200_000)
        #expect(r.errors.count == 300_000)
        let both = try Subprocess.capture(["/bin/sh", "-c", "head -c 1000000 /dev/zero >&2 & head -c 900000 /dev/zero; wait"])
        #expect(both.status == 0)
        #expect(both.output.count == 900_000)
        #expect(both.errors.count == 1_000_000)
    }

    @Test func stdinIsEmptyAndASignalIsReportedAs128Plus() throws {
        let r = try Subprocess.capture(["/bin/sh", "-c", "cat; kill -TERM $$"])
        #expect(r.output.isEmpty, "stdin is /dev/null")
        #expect(r.status == 128 + 15)
        #expect(try Subprocess.capture(["/bin/sh", "-c", "kill -KILL $$"]).status == 128 + 9)
        #expect(try Subprocess.capture(["/bin/sh", "-c", "exit 255"]).status == 255)
    }

    @Test func environmentAndFolder() throws {
        let r = try Subprocess.capture(["/bin/sh", "-c", "printf '%s %s' \"$DLG_X\" \"$PWD\""], environment: ["DLG_X": "y"], cwd: "/tmp")
        #expect(String(decoding: r.output, as: UTF8.self) == "y /tmp")
    }

    @Test func aMissingProgramIsUnavailable() {
        do {
            _ = try Subprocess.capture(["/nonexistent/program"])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("/nonexistent/program"), "\(error.message)")
        }
        let child = Subprocess(["/nonexistent/program"])
        #expect(throws: DlgError.self) { try child.start() }
        #expect(child.wait() == 127, "a failed start never leaves a waiter hanging")
    }

    @Test func aTimeoutKillsAndReapsTheChild() throws {
        for script in ["exec sleep 1000", "exec >/dev/null 2>&1; exec sleep 1000"] {
            var pid: pid_t = 0
            do {
                _ = try Subprocess.capture(["/bin/sh", "-c", script], timeout: .milliseconds(200), maxOutputBytes: nil,
                                           environment: nil, cwd: nil, started: { pid = $0 })
                Issue.record("\(script): expected a timeout")
            } catch {
                #expect(error.code == .tempFail, "\(error)")
                #expect(error.message.contains("sh") && error.message.contains("0.2 s"), "\(error.message)")
            }
            #expect(pid > 0)
            // Killed and reaped: no such process any more (not even a zombie).
            #expect(Glibc.kill(pid, 0) == -1 && errno == ESRCH, "\(script): pid \(pid) is still there")
        }
    }

    @Test func outputBeyondTheCapKillsTheChild() throws {
        var pid: pid_t = 0
        do {
            _ = try Subprocess.capture(["/bin/sh", "-c", "exec cat /dev/zero"], timeout: nil, maxOutputBytes: 100_000,
                                       environment: nil, cwd: nil, started: { pid = $0 })
            Issue.record("expected the cap")
        } catch {
            #expect(error.code == .data, "\(error)")
            #expect(error.message.contains("100000 bytes") && error.message.contains("stdout"), "\(error.message)")
        }
        #expect(Glibc.kill(pid, 0) == -1 && errno == ESRCH)
        // Up to the cap is fine.
        let r = try Subprocess.capture(["/usr/bin/head", "-c", "1048576", "/dev/zero"], maxOutputBytes: 1 << 20)
        #expect(r.status == 0 && r.output.count == 1 << 20)
    }

    @Test func captureAsyncRunsOffThePool() async throws {
        let r = try await Subprocess.captureAsync(["/bin/sh", "-c", "printf hi; exit 2"], timeout: .seconds(60))
        #expect(r.status == 2 && String(decoding: r.output, as: UTF8.self) == "hi")
        await #expect(throws: DlgError.self) { try await Subprocess.captureAsync(["/nonexistent/program"]) }
    }

    // MARK: start and wait

    @Test func startAndWait() throws {
        let child = Subprocess(["/bin/sh", "-c", "read line; echo got $line; exit 4"], standardInput: .pipe, standardOutput: .pipe)
        #expect(child.name == "sh")
        try child.start()
        #expect(child.isRunning, "waits for its input")
        let input = try #require(child.standardInput)
        input.write(Data("hello\n".utf8))
        try input.close()
        #expect(child.wait() == 4)
        #expect(!child.isRunning)
        #expect(String(decoding: try #require(child.standardOutput).readDataToEndOfFile(), as: UTF8.self) == "got hello\n")
    }

    @Test func descriptorsAndNull() throws {
        let (r, w) = try Subprocess.makePipe()
        defer { close(r) }
        let child = Subprocess(["/bin/sh", "-c", "cat; printf x"], standardInput: .handle(FileHandle.nullDevice), standardOutput: .fd(w))
        try child.start()
        close(w)
        #expect(child.wait() == 0)
        // EOF: the parent closed its copy and the child's is gone with it, nothing else holds the pipe.
        #expect(String(decoding: FileHandle(fileDescriptor: r).readDataToEndOfFile(), as: UTF8.self) == "x")
    }

    @Test func aBadDescriptorIsRefused() {
        let child = Subprocess(["/bin/true"], standardOutput: .fd(-1))
        #expect(throws: DlgError.self) { try child.start() }
        #expect(child.wait() == 127)
    }

    @Test func aChildNobodyWaitsForIsStillReaped() async throws {
        let child = Subprocess(["/bin/true"])
        try child.start()
        let pid = child.pid
        // Nobody waits: the reaper thread alone must take the exit (no zombie left behind).
        var zombie = true
        for _ in 0..<2000 where zombie {
            zombie = Self.isOurZombie(pid) || child.isRunning
            if zombie { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(!zombie, "pid \(pid) still a zombie or running")
        #expect(child.wait() == 0)
        #expect(!Self.isOurZombie(pid))
    }

    /// Regression for the missed exit (issue 22): many short children at once, each awaited by a task.
    @Test(.timeLimit(.minutes(3))) func manyChildrenAwaitedConcurrentlyAllReturn() async throws {
        let statuses = try await withThrowingTaskGroup(of: (Int, Int32).self) { group in
            for i in 0..<200 {
                group.addTask {
                    let child = Subprocess(["/bin/sh", "-c", "exit \(i % 64)"])
                    try child.start()
                    return (i, await child.exitStatus())
                }
            }
            var all: [Int: Int32] = [:]
            for try await (i, s) in group { all[i] = s }
            return all
        }
        #expect(statuses.count == 200)
        for (i, s) in statuses { #expect(s == Int32(i % 64), "child \(i)") }
    }

    @Test func severalWaitersGetTheSameStatus() async throws {
        let child = Subprocess(["/bin/sh", "-c", "read x; exit 7"], standardInput: .pipe)
        try child.start()
        async let a = child.exitStatus()
        async let b = child.exitStatus()
        async let c = onOwnThread { child.wait() }
        try child.standardInput?.close()
        let all = try await [a, b, c]
        #expect(all == [7, 7, 7])
        #expect(child.wait() == 7)
    }

    /// Regression: a child spawned from a Swift concurrency or dispatch thread inherited that thread's
    /// signal mask (SIGTERM and SIGINT blocked), so `terminate()` did nothing and the child ran to its end.
    @Test func terminateEndsAChildStartedFromThePool() async throws {
        let child = Subprocess(["/bin/sh", "-c", "echo ready; exec sleep 1000"], standardOutput: .pipe)
        try await Task.detached { try child.start() }.value
        let out = try #require(child.standardOutput)
        let line = try await onOwnThread { out.availableData }
        #expect(String(decoding: line, as: UTF8.self) == "ready\n")
        child.terminate()
        #expect(await child.exitStatus() == 128 + 15)
        child.terminate()  // reaped: sends nothing
    }

    @Test func killReachesTheWholeGroup() async throws {
        let child = Subprocess(["/bin/sh", "-c", "sleep 1000 & echo $!; wait"], standardOutput: .pipe, newProcessGroup: true)
        try child.start()
        let out = try #require(child.standardOutput)
        let text = try await onOwnThread { out.availableData }
        let sleeper = try #require(pid_t(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        child.kill(signal: SIGKILL)
        #expect(await child.exitStatus() == 128 + 9)
        // The sleep (a child of sh, reparented) got the signal too; it is gone once init reaps it.
        var alive = true
        for _ in 0..<2000 where alive {
            alive = Glibc.kill(sleeper, 0) == 0 && !Self.isZombie(sleeper)
            if alive { try await Task.sleep(for: .milliseconds(5)) }
        }
        #expect(!alive)
    }

    // MARK: helpers

    static func stat(_ pid: pid_t) -> (state: Character, ppid: pid_t)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 1, let state = fields[0].first, let ppid = pid_t(fields[1]) else { return nil }
        return (state, ppid)
    }

    static func isZombie(_ pid: pid_t) -> Bool { stat(pid)?.state == "Z" }

    /// A zombie child of this process (a pid reused by someone else's process does not count).
    static func isOurZombie(_ pid: pid_t) -> Bool {
        guard let s = stat(pid) else { return false }
        return s.state == "Z" && s.ppid == getpid()
    }
}
