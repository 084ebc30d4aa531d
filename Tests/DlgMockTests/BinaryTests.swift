// The dlg-mock executable: startup line, serving, clean stop on SIGTERM.

import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct BinaryTests {
    /// The built `dlg-mock`, next to the test bundle in the build directory.
    static var executable: URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("dlg-mock")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    @Test(.enabled(if: executable != nil, "dlg-mock is not built"))
    func printsThePortServesAndStopsOnSIGTERM() async throws {
        let process = Process()
        guard let executable = Self.executable else { return }
        process.executableURL = executable
        process.arguments = ["--port", "0", "--seed", "3", "--model", "bin-model"]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Read the first line (the only one the mock prints).
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        let prefix = "dlg-mock listening on http://127.0.0.1:"
        #expect(text.hasPrefix(prefix) && text.hasSuffix("/v1\n"), "stdout: \(text)")
        let port = try #require(Int(text.dropFirst(prefix.count).dropLast("/v1\n".count)))

        let reply = try await MockClient(port: port).get("/v1/models")
        #expect(reply.text.contains("\"bin-model\""))

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "stderr: \(errors)")
        #expect(stdout.fileHandleForReading.readDataToEndOfFile().isEmpty)
    }

    @Test(.enabled(if: executable != nil, "dlg-mock is not built"))
    func rejectsConflictingFaultRates() throws {
        let process = Process()
        guard let executable = Self.executable else { return }
        process.executableURL = executable
        process.arguments = ["--fault-429", "0.6", "--fault-drop", "0.6"]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = Pipe()
        try process.run()
        process.waitUntilExit()
        let errors = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 64, "stderr: \(errors)")
        #expect(errors.contains("'--fault-429'"))
    }
}
