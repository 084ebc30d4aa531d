// dlg-dedup's stage: each rejection is a line of run_state/<run_id>/dedup_rejections.jsonl with its
// kind, the question it matched (id and text) and the similarity.

@testable import DlgCore
import Foundation
import Logging
import Testing

@Suite struct DedupStageTests {
    static func pending(_ id: String, _ question: String, attempt: Int = 1, run: String = "r1") -> JSONObject {
        ["conversation_id": .string(id), "run_id": .string(run), "language": "en", "status": "active", "turns": .array([]),
         "target_turns": 2,
         "pending": .obj(["user_message": .string(question), "state": "generated", "turn_index": 1, "attempt": .int(attempt)])]
    }

    static func stage(_ out: String, ledger: String) throws -> DedupStage {
        let store = try FileDedupStore(path: ledger, nearThreshold: 0.8)
        store.rejectionLog = DedupRejectionLog(outputDir: out)
        return DedupStage(store: store, log: Logger(label: "test"))
    }

    static func lines(_ out: String, run: String = "r1") throws -> [JSON] {
        let path = try #require(DedupRejections.path(outputDir: out, runID: run))
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { try JSONCodec.parse(String($0)) }
    }

    @Test func rejectionsAreWrittenWithKindMatchAndBothQuestions() throws {
        let out = NSTemporaryDirectory() + "dlg-rejections-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let ledger = out + "/coverage_ledger.jsonl"
        let first = "How long should I let my sourdough starter rest after feeding it before we bake?"
        let longer = "How long should I let my young sourdough starter rest after feeding it before we bake?"
        let stage = try Self.stage(out, ledger: ledger)
        let decided = stage.processBatch([Self.pending("r1-en-0", first), Self.pending("r1-en-1", longer),
                                          Self.pending("r1-en-2", first.uppercased(), attempt: 2)])
        #expect(decided.map { $0["pending"]?["state"]?.stringValue } == ["accepted", "rejected", "rejected"])
        #expect(stage.rejected == 2 && stage.nearRejected == 1)
        let lines = try Self.lines(out)
        try #require(lines.count == 2, "\(lines)")
        let hash = questionHash(Text.normalized(first))
        let near = lines[0]
        #expect(near.objectValue?.pairs.map(\.key) == ["timestamp", "run_id", "conversation_id", "turn_index", "attempt", "language",
                                                       "kind", "similarity", "question", "matched_question_hash", "matched_question"])
        #expect(near["kind"] == "near_duplicate" && near["conversation_id"] == "r1-en-1" && near["similarity"] == .double(0.938))
        #expect(near["question"]?.stringValue == longer && near["matched_question"]?.stringValue == first, "the text of a question of the same batch")
        #expect(near["matched_question_hash"]?.stringValue == hash)
        #expect(lines[1]["kind"] == "exact_duplicate" && lines[1]["attempt"] == 2 && lines[1]["matched_question"] == .null)
        #expect(lines[1]["matched_question_hash"]?.stringValue == hash && lines[1]["similarity"] == .double(1))

        // Another process: the match is read back from the ledger file, and its line appended.
        let other = try Self.stage(out, ledger: ledger)
        _ = other.processBatch([Self.pending("r1-en-3", first + " Really?", attempt: 3)])
        let again = try Self.lines(out)
        try #require(again.count == 3)
        #expect(again[2]["matched_question"]?.stringValue == first && again[2]["similarity"] == .double(0.938))
        let kinds = DedupRejections.kinds(outputDir: out, runID: "r1")
        #expect(kinds == ["r1-en-1#1#1": .near, "r1-en-2#1#2": .exact, "r1-en-3#1#3": .near])
    }

    @Test func aRunIDThatCannotNameAFolderWritesNoLine() throws {
        let out = NSTemporaryDirectory() + "dlg-rejections-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let stage = try Self.stage(out, ledger: out + "/coverage_ledger.jsonl")
        _ = stage.processBatch([Self.pending("a", "How do I oil a chain?", run: "../x"), Self.pending("b", "how do i oil a chain", run: "../x")])
        #expect(stage.rejected == 1)
        #expect(DedupRejections.path(outputDir: out, runID: "../x") == nil)
        #expect(!FileManager.default.fileExists(atPath: out + "/run_state"), "nothing written outside or inside run_state")
    }
}
