// The file dedup store (the coverage ledger) shared by processes and passes.

@testable import DlgCore
import Foundation
import Testing

@Suite struct DedupStoreTests {
    func candidate(_ id: String, _ turn: Int, _ q: String) -> DedupCandidate {
        DedupCandidate(conversationID: id, turnIndex: turn, question: q,
                       ledgerEntry: ["question": .string(q), "conversation_id": .string(id), "turn_index": .int(turn)])
    }

    @Test func lowestSlotWinsAndRerunsAreIdempotent() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        let store = try FileDedupStore(path: path)
        let first = try store.filterAndCommit([candidate("c1", 1, "How do I oil a chain?"),
                                               candidate("c2", 1, "how do  i OIL a chain?"),
                                               candidate("c3", 1, "")])
        #expect(first == [true, false, false])
        // Another process (a resumed run) sees the same decisions, and the same question for the
        // same conversation and turn is accepted again without a second ledger line.
        let other = try FileDedupStore(path: path)
        #expect(try other.filterAndCommit([candidate("c1", 1, "How do I oil a chain?"),
                                           candidate("c2", 1, "How do I oil a chain?")]) == [true, false])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
    }

    @Test func tornLastLineIsCutBeforeAppending() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        try "{\"question\":\"a?\",\"conversation_id\":\"c1\",\"turn_index\":1}\n{\"question\":\"b".write(toFile: path, atomically: true, encoding: .utf8)
        let store = try FileDedupStore(path: path)
        #expect(try store.filterAndCommit([candidate("c2", 1, "b?"), candidate("c3", 1, "a?")]) == [true, false])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        for l in lines { #expect((try? JSONCodec.parse(String(l))) != nil) }
    }
}

@Suite struct DedupStoreMoreTests {
    func candidate(_ id: String, _ turn: Int, _ q: String) -> DedupCandidate {
        DedupCandidate(conversationID: id, turnIndex: turn, question: q,
                       ledgerEntry: ["question": .string(q), "conversation_id": .string(id), "turn_index": .int(turn)])
    }

    func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    @Test func aFileThatIsOneTornLineIsEmptied() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        try #"{"question":"a?","conversation_id":"c1","tur"#.write(toFile: path, atomically: true, encoding: .utf8)
        let store = try FileDedupStore(path: path)
        #expect(try store.filterAndCommit([candidate("c2", 1, "a?")]) == [true], "the torn line never happened")
        #expect(try lines(path).count == 1)
        #expect(try JSONCodec.parse(lines(path)[0])["conversation_id"] == "c2")
    }

    @Test func reAcceptingIsIdempotentInOneProcessToo() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        let store = try FileDedupStore(path: path)
        #expect(try store.filterAndCommit([candidate("c1", 1, "Why?")]) == [true])
        #expect(try store.filterAndCommit([candidate("c1", 1, "why?"), candidate("c1", 1, " WHY? ")]) == [true, true])
        #expect(try store.filterAndCommit([candidate("c1", 2, "why?")]) == [false], "another turn is another key")
        #expect(try lines(path).count == 1)
    }

    @Test func theFirstCandidateOfABatchWins() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        let store = try FileDedupStore(path: path)
        // The runner offers candidates in slot order: the lowest slot is first and keeps the question.
        let batch = [candidate("r-en-0002", 1, "How?"), candidate("r-en-0005", 1, "how?"), candidate("r-en-0009", 1, "What?"),
                     candidate("r-en-0011", 1, "what?")]
        #expect(try store.filterAndCommit(batch) == [true, false, true, false])
        let ids = try lines(path).map { try JSONCodec.parse($0)["conversation_id"]?.stringValue }
        #expect(ids == ["r-en-0002", "r-en-0009"])
    }

    @Test func aNewQuestionForTheSameTurnFreesTheOldOne() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        let store = try FileDedupStore(path: path)
        #expect(try store.filterAndCommit([candidate("c1", 1, "old?")]) == [true])
        #expect(try store.filterAndCommit([candidate("c1", 1, "new?")]) == [true])
        // Another process reads the ledger and agrees: "old?" belongs to nobody now, "new?" to c1.
        let other = try FileDedupStore(path: path)
        #expect(try other.filterAndCommit([candidate("c2", 1, "new?"), candidate("c2", 1, "old?")]) == [false, true])
    }

    @Test func anUnopenableStoreIsAnIOError() {
        do {
            _ = try FileDedupStore(path: "/proc/no-such-folder/ledger.jsonl")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .io)
        }
    }

    /// With `coverage.near_dedup_threshold` 0.8: a word or two added, clauses swapped, punctuation
    /// changed: rejected as near duplicates naming the question they matched; distinct ones pass.
    @Test func nearDuplicatesAreRejectedAtEightTenths() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        let store = try FileDedupStore(path: path, nearThreshold: 0.8)
        let first = "How long should I let my sourdough starter rest after feeding it before we bake?"
        let decided = try store.decide([
            candidate("c1", 1, first),
            candidate("c2", 1, "How long should I let my young sourdough starter rest after feeding it before we bake?"),
            candidate("c3", 1, "How long exactly should I let my young sourdough starter rest after feeding it before we bake?"),
            candidate("c4", 1, "After feeding it, before we bake: how long should I let my sourdough starter rest?"),
            candidate("c5", 1, "how long should i let my sourdough-starter rest, after feeding it, before we bake"),
            candidate("c6", 1, "Which flour gives the most open crumb in a rye loaf?"),
            candidate("c7", 1, "How long should I let my bread dough rest after shaping it before we bake?"),
        ])
        let id = questionHash(Text.normalized(first))
        #expect(decided[0] == .accepted)
        #expect(decided[1] == .nearDuplicate(of: id, similarity: 15.0 / 16))
        #expect(decided[2] == .nearDuplicate(of: id, similarity: 15.0 / 17))
        #expect(decided[3] == .nearDuplicate(of: id, similarity: 1))
        #expect(decided[4] == .nearDuplicate(of: id, similarity: 1))
        #expect(decided[5] == .accepted)
        #expect(decided[6] == .accepted, "12 of 18 words shared: 0.67")
        // Another process reads the ledger and agrees; the same turn asking again is accepted again.
        let other = try FileDedupStore(path: path, nearThreshold: 0.8)
        #expect(try other.decide([candidate("c1", 1, first), candidate("c9", 1, first + " Really?")])
                == [.accepted, .nearDuplicate(of: id, similarity: 15.0 / 16)])
        #expect(try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").count == 3)
    }

    /// Threshold 0 (the default): exact dedup only, whatever the similarity.
    @Test func thresholdZeroKeepsExactDedupOnly() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        let store = try FileDedupStore(path: path)
        #expect(try store.decide([candidate("c1", 1, "How do I feed a starter?"), candidate("c2", 1, "How do I feed a starter now?"),
                                  candidate("c3", 1, "how do i feed a starter?")]) == [.accepted, .accepted, .duplicate])
    }
}
