// The dlg-mock executable: startup line, serving, clean stop on SIGTERM.

import DlgTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct BinaryTests {
    /// Whether the built `dlg-mock` is there (`ToolPaths.binDir`: `$DLG_BIN_DIR` or `.build/debug`).
    static var built: Bool { (try? ToolPaths.binary("dlg-mock")) != nil }

    @Test(.enabled(if: built, "dlg-mock is not built"))
    func printsThePortServesAndStopsOnSIGTERM() async throws {
        let mock = try startTool("dlg-mock", args: ["--port", "0", "--seed", "3", "--model", "bin-model"])
        defer { mock.kill() }

        // The first line (the only one the mock prints), polled from its stdout file.
        var text = ""
        for _ in 0..<2000 where !text.contains("\n") && mock.isRunning {
            text = mock.stdoutText
            try await Task.sleep(for: .milliseconds(10))
        }
        text = mock.stdoutText
        let prefix = "dlg-mock listening on http://127.0.0.1:"
        #expect(text.hasPrefix(prefix) && text.hasSuffix("/v1\n"), "stdout: \(text) stderr: \(mock.stderrText)")
        let port = try #require(Int(text.dropFirst(prefix.count).dropLast("/v1\n".count)))

        let reply = try await MockClient(port: port).get("/v1/models")
        #expect(reply.text.contains("\"bin-model\""))

        mock.kill(SIGTERM, group: false)
        let r = try await mock.finish(timeout: .seconds(30))
        #expect(r.status == 0 && !r.timedOut, "\(r)")
        #expect(r.stdout == text, "nothing after the port line: \(r)")
    }

    @Test(.enabled(if: built, "dlg-mock is not built"))
    func rejectsConflictingFaultRates() async throws {
        let r = try await runTool("dlg-mock", args: ["--fault-429", "0.6", "--fault-drop", "0.6"], timeout: .seconds(60))
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains("'--fault-429'"), "\(r)")
    }
}
