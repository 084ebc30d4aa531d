// The one safe-id rule for everything that names a file or folder, and the run layout that applies it.

@testable import DlgCore
import Foundation
import Testing

@Suite struct SafeIDTests {
    @Test func ordinaryIdsPass() {
        for id in ["r1-en-0001", "0123456789abcdef0123456789abcdef", "a.b_c-d", "x", "café-日本", "v1.2"] {
            #expect(SafeID.problem(id) == nil, "\(id)")
        }
    }

    @Test func pathsAndParentsAreRefused() {
        for id in ["a/b", "/abs", "..", "a..b", "../x", "x/"] {
            #expect(SafeID.problem(id) == #"must not contain "/" or "..""#, "\(id)")
        }
        #expect(SafeID.problem("") == "must not be empty")
    }

    @Test func controlCharactersAreRefused() {
        for id in ["a\nb", "tab\there", "bell\u{07}", "nul\u{00}x", "del\u{7F}", "c1\u{85}x", "cr\r"] {
            #expect(SafeID.problem(id) == "must not contain control characters", "\(id.debugDescription)")
        }
    }

    @Test func lengthIsCountedInBytes() {
        #expect(SafeID.maxLength == 200)
        #expect(SafeID.problem(String(repeating: "a", count: 200)) == nil)
        #expect(SafeID.problem(String(repeating: "a", count: 201)) == "must be at most 200 bytes long")
        // 100 two-byte letters are 200 bytes; one more is over, though only 101 characters.
        #expect(SafeID.problem(String(repeating: "é", count: 100)) == nil)
        #expect(SafeID.problem(String(repeating: "é", count: 101)) == "must be at most 200 bytes long")
    }
}

@Suite struct RunLayoutTests {
    let layout = RunLayout(outputDir: "/p/outputs", logsDir: "/p/logs")

    @Test func aRunsFilesAreUnderItsFolder() throws {
        #expect(try layout.journal("r1") == "/p/outputs/run_state/r1/journal.jsonl")
        #expect(try layout.finished("r1") == "/p/outputs/run_state/r1/finished.jsonl")
        #expect(try layout.runStateFile("r1") == "/p/outputs/run_state/r1.json")
        #expect(try layout.conversationFile("r1-en-0001") == "/p/outputs/conversations/r1-en-0001.json")
        #expect(layout.datasetCommitPath == "/p/outputs/run_state/dataset_commit.json")
        #expect(layout.log(RunLayout.runLog) == "/p/logs/run.log")
    }

    /// Every id that becomes a path goes through SafeID: a run id is a usage error, a conversation id
    /// (read from a record) a data error, and neither leaves its folder.
    @Test func unsafeIdsNameNoPath() {
        for id in ["../x", "a/b", "", "nl\n"] {
            #expect(throws: DlgError.self) { try layout.journal(id) }
            #expect(throws: DlgError.self) { try layout.runDir(id) }
            #expect(throws: DlgError.self) { try RunLayout.clusterJobDir(stateDir: "/s", runID: id) }
        }
        do {
            _ = try layout.conversationFile("../../etc/passwd")
            Issue.record("a conversation id with a path was accepted")
        } catch {
            #expect(error.code == .data)
            #expect(error.message == #"conversation id "../../etc/passwd" must not contain "/" or "..""#)
        }
        do {
            _ = try layout.runDir("a/b")
            Issue.record("a run id with a path was accepted")
        } catch {
            #expect(error.code == .usage)
        }
    }
}
