// A record read with part of its turns must write back the same line as the whole record would,
// whatever a stage does to it.

@testable import DlgCore
import Foundation
import Testing

@Suite struct RecordLineTests {
    /// A record of `n` turns shaped as the stages make them.
    static func record(turns n: Int, judgedUpTo judged: Int) -> JSONObject {
        var r = JSONObject()
        r["conversation_id"] = "run-en-0003"
        r["run_id"] = "run"
        r["index"] = 3
        r["status"] = "active"
        r["target_turns"] = .int(n + 2)
        r["personas"] = .obj(["user": "a curious \"student\"", "assistant": "a tutor"])
        var turns: [JSON] = []
        for i in 1...max(1, n) where n > 0 {
            var t = JSONObject()
            t["turn_index"] = .int(i)
            t["user_message"] = .string("question \(i)?\nwith a line break and é")
            t["assistant_message"] = .string("answer \(i) \\ with a backslash")
            t["qa_generation"] = .obj(["user_message": .string("question \(i)?"), "grounding_facts": [.obj(["fact": "f", "source_descriptor": "d"])]])
            t["kb_answer"] = .obj(["assistant_message": .string("answer \(i)"), "score": 0.75, "reasoning_trace": .obj(["evidence": [.obj(["id": "E1", "content": "c\u{1}"])]])])
            t["qa_judge"] = i <= judged ? .obj(["score": 8, "reasons": ["other"], "notes": "ok"]) : .obj([:])
            t["source_path"] = "docs/a.md"
            t["coverage_target"] = .string("a.md#\(i)")
            t["tool_events"] = [.obj(["name": "vector_db_search", "result": .obj(["passages": ["p1", "p2"]])])]
            turns.append(.object(t))
        }
        r["turns"] = .array(turns)
        r["pending"] = .obj(["user_message": "next?", "state": "accepted", "turn_index": .int(n + 1)])
        r["usage"] = .obj(["prompt_tokens": 10, "completion_tokens": 5])
        return r
    }

    static func bytes(_ r: JSONObject) -> [UInt8] {
        var b: [UInt8] = []
        JSON.object(r).write(into: &b)
        return b
    }

    static let views: [(String, TurnView)] = [
        ("gen", TurnView(fields: ["turn_index", "user_message", "assistant_message", "source_path", "coverage_target"])),
        ("dedup", TurnView(fields: [])),
        ("respond", TurnView(fields: ["turn_index", "user_message", "assistant_message"])),
        ("judge", TurnView(fields: ["turn_index", "user_message", "assistant_message", "qa_judge", "qa_generation", "kb_answer"])),
        ("book", TurnView(fields: ["qa_judge"])),
    ]

    /// What stages do to a record, each applied to the whole record and to the one read in part.
    static let changes: [(String, @Sendable (inout JSONObject) -> Void)] = [
        ("nothing", { _ in }),
        ("head", { r in r["pending"] = nil; r["status"] = "dropped"; r["drop_reason"] = "x" }),
        ("append a turn", { r in
            var t = Record.turns(r)
            t.append(.obj(["turn_index": .int(t.count + 1), "user_message": "new", "assistant_message": "new answer"]))
            r["turns"] = .array(t)
        }),
        ("judge the last turn", { r in
            var t = Record.turns(r)
            guard !t.isEmpty else { return }
            t[t.count - 1]["qa_judge"] = .obj(["score": 9, "reasons": [], "notes": "judged"])
            t[t.count - 1]["judge_raw"] = .obj(["id": "x"])
            r["turns"] = .array(t)
        }),
        ("change a member of every turn", { r in
            r["turns"] = .array(Record.turns(r).map { t in var t = t; t["user_message"] = "changed"; t["turn_index"] = nil; return t })
        }),
    ]

    @Test func writesWhatTheWholeRecordWouldWhateverTheStageDoes() throws {
        for n in [0, 1, 2, 8, 16] {
            let input = Self.bytes(Self.record(turns: n, judgedUpTo: n - 1))
            let whole = try RecordCheck.parse(input).get()
            for (viewName, view) in Self.views {
                let line = try RecordLine.parse(input, view: view).get()
                #expect(line.isPartial == (n > 0), "\(n) turns, \(viewName)")
                #expect(Record.turns(line.record).count == n)
                // A stage changes only members it reads: dedup and the book read no message.
                for (changeName, change) in Self.changes
                where changeName != "change a member of every turn" || ["gen", "respond", "judge"].contains(viewName) {
                    var expected = whole
                    change(&expected)
                    var got = line.record
                    change(&got)
                    var out: [UInt8] = []
                    line.write(got, into: &out)
                    #expect(out == Self.bytes(expected), "\(n) turns, \(viewName), \(changeName)")
                }
            }
        }
    }

    @Test func showsOnlyTheNamedMembersOfATurnInTheirOrder() throws {
        let input = Self.bytes(Self.record(turns: 3, judgedUpTo: 2))
        let judge = try RecordLine.parse(input, view: Self.views[3].1).get()
        let turns = Record.turns(judge.record)
        #expect(turns[0].objectValue?.keys == ["turn_index", "user_message", "assistant_message", "qa_generation", "kb_answer", "qa_judge"])
        #expect(turns[0]["user_message"]?.stringValue == "question 1?\nwith a line break and é")
        #expect(turns[2]["kb_answer"] == Record.turns(try RecordCheck.parse(input).get())[2]["kb_answer"])
        let whole = try judge.readWhole().get()
        #expect(!whole.isPartial)
        #expect(whole.record == (try RecordCheck.parse(input).get()))
    }

    @Test func aChangedTurnKeepsItsMembersOrderAsTheWholeRecordWould() throws {
        let input = Self.bytes(Self.record(turns: 2, judgedUpTo: 0))
        let line = try RecordLine.parse(input, view: TurnView(fields: ["qa_judge", "user_message"])).get()
        var r = line.record
        var t = Record.turns(r)
        t[1]["qa_judge"] = .obj(["score": 7])       // seen: in place
        t[1]["user_message"] = nil                  // seen: removed
        t[1]["source_path"] = "other.md"            // not seen, set: in place
        t[1]["judge_raw"] = .obj(["id": "r"])       // new: at the end
        r["turns"] = .array(t)
        var whole = try RecordCheck.parse(input).get()
        var wt = Record.turns(whole)
        wt[1]["qa_judge"] = .obj(["score": 7])
        wt[1]["user_message"] = nil
        wt[1]["source_path"] = "other.md"
        wt[1]["judge_raw"] = .obj(["id": "r"])
        whole["turns"] = .array(wt)
        var out: [UInt8] = []
        line.write(r, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(decoding: Self.bytes(whole), as: UTF8.self))
    }

    @Test func aLineInAnotherWritersFormIsReadWhole() throws {
        let spaced = #"{"conversation_id": "a", "status": "active", "turns": [{"turn_index": 1, "user_message": "q\/"}], "target_turns": 2}"#
        let line = try RecordLine.parse(Array(spaced.utf8), view: TurnView(fields: [])).get()
        #expect(!line.isPartial)
        var out: [UInt8] = []
        line.write(line.record, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #"{"conversation_id":"a","status":"active","turns":[{"turn_index":1,"user_message":"q/"}],"target_turns":2}"#)
    }

    @Test func badLinesHaveTheSameProblemsAsRecordCheck() {
        let lines = [
            #"{"conversation_id": "#, "[1]", #"{"status":"active","turns":[],"target_turns":2}"#,
            #"{"conversation_id":"a","status":"active","turns":{},"target_turns":2}"#,
            #"{"conversation_id":"a","status":"active","turns":[1],"target_turns":2}"#,
            #"{"conversation_id":"a","status":"active","turns":[],"target_turns":2,"pending":{"user_message":3}}"#,
            #"{"conversation_id":"a","status":"active","turns":[{"a":1,"a":2}],"target_turns":2}"#,
        ]
        for text in lines {
            let old: String? = { if case .failure(let p) = RecordCheck.parse(Array(text.utf8)) { return p.description }; return nil }()
            let new: String? = { if case .failure(let p) = RecordLine.parse(Array(text.utf8), view: TurnView(fields: [])) { return p.description }; return nil }()
            #expect(old == new, "\(text)")
        }
    }
}
