// The one way the core runs a program: start, wait without spinning, capture.

@testable import DlgCore
import Foundation
import Testing

@Suite struct SubprocessTests {
    @Test func captureReturnsStatusStdoutAndStderr() throws {
        let r = try Subprocess.capture(["/bin/sh", "-c", "printf out; printf err >&2; exit 3"])
        #expect(r.status == 3)
        #expect(String(decoding: r.output, as: UTF8.self) == "out")
        #expect(String(decoding: r.errors, as: UTF8.self) == "err")
    }

    @Test func aChildThatFillsBothPipesDoesNotBlock() throws {
        // Well over a pipe's 64 KiB on each stream, stderr first.
        let r = try Subprocess.capture(["/bin/sh", "-c", "head -c 300000 /dev/zero >&2; head -c 200000 /dev/zero; exit 0"])
        #expect(r.status == 0)
        #expect(r.output.count == 200_000)
        #expect(r.errors.count == 300_000)
    }

    @Test func stdinIsEmptyAndASignalIsReportedAs128Plus() throws {
        let r = try Subprocess.capture(["/bin/sh", "-c", "cat; kill -TERM $$"])
        #expect(r.output.isEmpty, "stdin is /dev/null")
        #expect(r.status == 128 + 15)
    }

    @Test func aMissingProgramIsUnavailable() {
        do {
            _ = try Subprocess.capture(["/nonexistent/program"])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("cannot start program"), "\(error.message)")
        }
    }

    @Test func startAndWait() throws {
        let out = Pipe()
        let child = Subprocess(["/bin/sh", "-c", "read line; echo got $line; exit 4"], standardInput: Pipe(), standardOutput: out)
        #expect(child.name == "sh")
        try child.start()
        #expect(child.isRunning, "waits for its input")
        let input = try #require(child.standardInput as? Pipe)
        input.fileHandleForWriting.write(Data("hello\n".utf8))
        #expect(child.wait() == 4)
        #expect(!child.isRunning)
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "got hello\n")
    }

    /// Regression: a child spawned from a Swift concurrency or dispatch thread inherited that thread's
    /// signal mask (SIGTERM and SIGINT blocked), so `terminate()` did nothing and the child ran to its end.
    @Test func terminateEndsARunningChild() throws {
        let out = Pipe()
        let child = Subprocess(["/bin/sh", "-c", "echo ready; exec sleep 2"], standardOutput: out)
        try child.start()
        // Terminate once the program runs.
        #expect(String(decoding: out.fileHandleForReading.availableData, as: UTF8.self) == "ready\n")
        #expect(child.isRunning)
        child.terminate()
        let status = child.wait()
        #expect(status == 128 + 15)
    }
}
