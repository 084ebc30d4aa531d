// The run's journal: the latest line of a dialogue is its state, a torn last line is cut on open,
// and dialogues it does not hold are read back from the file.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct RunJournalTests {
    static func record(_ id: String, _ status: String, turns: Int) -> JSONObject {
        JSONObject([("conversation_id", .string(id)), ("status", .string(status)), ("language", "en"),
                    ("slot", .int(Int(id.suffix(1)) ?? 0)), ("target_turns", 2),
                    ("turns", .array((0..<turns).map { _ in .obj(["user_message": "q", "qa_judge": .obj(["score": 7])]) }))])
    }

    @Test func latestLineWinsTornTailIsCutAndFinishedAreReadBack() throws {
        let work = try WorkDir(copyExamples: false, label: "journal")
        let dir = work.path
        let path = dir + "/journal.jsonl"
        let keep: (JSONObject) -> Bool = { Record.status($0) == .active }
        do {
            let j = try RunJournal(path: path, keep: keep)
            try j.append(Self.record("c-0", "active", turns: 0))
            try j.append(Self.record("c-1", "active", turns: 0))
            try j.append(Self.record("c-0", "completed", turns: 2))
        }
        // A kill in the middle of a line.
        let torn = Array(#"{"conversation_id":"c-1","status":"comp"#.utf8)
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile(); h.write(Data(torn)); try h.close()

        let j = try RunJournal(path: path, keep: keep)
        #expect(j.lines == 3)
        #expect(j.order == ["c-0", "c-1"])
        #expect(j.held["c-0"] == nil, "a finished dialogue is not held in memory")
        #expect(j.held["c-1"]?["status"] == "active", "the torn state never happened")
        let c0 = try j.record("c-0")
        #expect(c0["status"] == "completed" && Record.turns(c0).count == 2)
        let s0 = try #require(j.index.summary("c-0"))
        #expect(s0.turns == 2 && s0.status == .completed)
        #expect(j.index.totals.judgeScoreSum == 14 && j.index.totals.judgeScoreCount == 2, "c-0's verdicts, counted once")
        // Appending after the cut keeps every line whole.
        try j.append(Self.record("c-1", "dropped", turns: 1))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.split(separator: "\n").allSatisfy { (try? JSONCodec.parse(String($0)))?.objectValue != nil }, "\(text)")
        #expect(try RunJournal(path: path, keep: keep).record("c-1")["status"] == "dropped")
    }

    /// Compacting keeps exactly the latest line of each dialogue, in first-seen order; reads and
    /// appends go on against the new file, and a reopened journal sees the same states.
    @Test func compactKeepsTheLatestStateOfEachDialogue() throws {
        let work = try WorkDir(copyExamples: false, label: "journal")
        let dir = work.path
        let path = dir + "/journal.jsonl"
        let keep: (JSONObject) -> Bool = { Record.status($0) == .active }
        let j = try RunJournal(path: path, keep: keep)
        for id in ["c-0", "c-1", "c-2"] { try j.append(Self.record(id, "active", turns: 0)) }
        try j.append(Self.record("c-1", "active", turns: 1))
        try j.append(Self.record("c-0", "completed", turns: 2))
        try j.append(Self.record("c-1", "dropped", turns: 1))
        #expect(j.lines == 6)
        try j.compact()
        #expect(j.lines == 3)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let states = try lines.map { try #require((try JSONCodec.parse(String($0))).objectValue) }
        #expect(states.map(Record.id) == ["c-0", "c-1", "c-2"])
        #expect(states.map(Record.status) == [.completed, .dropped, .active])
        #expect(try j.record("c-0")["status"] == "completed", "read back through the new offsets")
        #expect(try j.record("c-1")["status"] == "dropped")
        try j.append(Self.record("c-2", "completed", turns: 2))
        try j.compact()
        let reopened = try RunJournal(path: path, keep: keep)
        #expect(reopened.lines == 3 && reopened.held.isEmpty)
        #expect(try reopened.record("c-2")["status"] == "completed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["journal.jsonl"], "no temporary left")
    }
}
