// pdftotext: the letter ratio that rejects scanned pages, where the tool is found, and its limits.

@testable import DlgCore
import Foundation
import Testing

@Suite struct PDFTextTests {
    @Test func letterRatioCountsLettersAmongVisibleCharacters() {
        #expect(PDFText.letterRatio("") == 0)
        #expect(PDFText.letterRatio("   \n") == 0)
        #expect(PDFText.letterRatio("abcd") == 1)
        #expect(PDFText.letterRatio("ab 12") == 0.5)
        #expect(PDFText.letterRatio("é ü") == 1, "letters beyond ASCII count")
    }

    @Test func theToolComesFromTheEnvironmentOrThePath() {
        #expect(PDFText.tool(["DLG_PDFTOTEXT": "/nonexistent/pdftotext"]) == nil)
        #expect(PDFText.tool(["PATH": "/nonexistent"]) == nil)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext") {
            #expect(PDFText.tool(["PATH": "/nonexistent:/usr/bin"]) == "/usr/bin/pdftotext")
        }
    }

    /// A stand-in for pdftotext: `script` run by sh, in a folder removed afterwards.
    static func withFakeTool(_ script: String, _ body: (String) async throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "dlg-pdftotext-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tool = dir + "/pdftotext"
        try Data("#!/bin/sh\n\(script)\n".utf8).write(to: URL(fileURLWithPath: tool))
        chmod(tool, 0o755)
        try await body(tool)
    }

    @Test func aPdftotextThatHangsIsKilledAndTheFileNamed() async throws {
        try await Self.withFakeTool("exec sleep 1000") { tool in
            do throws(DlgError) {
                _ = try await PDFText.pages(tool, [], "/k/slow.pdf", "knowledge/slow.pdf", timeout: .milliseconds(300))
                Issue.record("expected a timeout")
            } catch {
                #expect(error.code == .tempFail)
                #expect(error.message.hasPrefix("knowledge/slow.pdf: pdftotext did not finish within 0.3 s"), "\(error.message)")
            }
        }
    }

    @Test func aPdftotextThatWritesTooMuchIsKilledAndTheFileNamed() async throws {
        try await Self.withFakeTool("exec cat /dev/zero") { tool in
            do throws(DlgError) {
                _ = try await PDFText.pages(tool, [], "/k/big.pdf", "knowledge/big.pdf", maxBytes: 1 << 20)
                Issue.record("expected the cap")
            } catch {
                #expect(error.code == .data)
                #expect(error.message.hasPrefix("knowledge/big.pdf: pdftotext wrote more than 1 MiB of text"), "\(error.message)")
            }
        }
        #expect(PDFText.timeout == .seconds(60) && PDFText.maxTextBytes == 64 << 20)
    }
}
