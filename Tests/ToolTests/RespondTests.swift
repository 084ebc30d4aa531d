// dlg-respond: the answer from the knowledge base, appended as a turn with its tool events.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-respond") struct RespondTests {
    @Test func appendsATurnWithToolEvents() async throws {
        let work = try WorkDir()
        let input = try Fixtures.records("respond_accepted.jsonl")
        try await withMock(["--seed", "21"]) { mock in
            let r = try await stage("dlg-respond", work, mock, stdin: JSONL.text(input))
            try #require(r.status == 0, "\(r)")
            let out = try JSONL.records(r.stdout)
            try #require(out.count == 2, "\(r)")
            for (i, rec) in out.enumerated() {
                let context = "record \(i)\n\(r)"
                #expect(rec["conversation_id"] == input[i]["conversation_id"], "\(context)")
                #expect(rec["pending"] == nil, "pending must be cleared: \(context)")
                let turns = rec["turns"]?.arrayValue ?? []
                try #require(turns.count == 1, "\(context)")
                let turn = turns[0]
                let needed: Set<String> = ["turn_index", "user_message", "assistant_message", "qa_generation", "kb_answer",
                                           "tool_events", "qa_judge"]
                #expect(missing(needed, in: turn.keySet).isEmpty, "turn keys \(turn.keySet.sorted()): \(context)")
                #expect(turn["turn_index"]?.intValue == 1, "\(context)")
                #expect(turn["user_message"] == input[i]["pending"]?["user_message"], "\(context)")
                #expect(nonEmptyString(turn["assistant_message"]), "\(context)")
                #expect(turn["kb_answer"]?["assistant_message"] == turn["assistant_message"], "\(context)")
                let events = turn["tool_events"]?.arrayValue ?? []
                #expect(!events.isEmpty, "no tool_events: \(context)")
                for e in events {
                    #expect(missing(UpstreamKeys.toolEvent, in: e.keySet).isEmpty, "tool event \(e.serialized())")
                }
                let searches = events.filter { $0["name"]?.stringValue == "vector_db_search" }
                #expect(!searches.isEmpty, "\(context)")
                #expect(searches.contains { !($0["result"]?["results"]?.arrayValue ?? []).isEmpty },
                        "a knowledge search must find passages: \(context)")
            }
            // target_turns 1 ends the first dialogue; the second wants 2 turns.
            #expect(out[0]["status"]?.stringValue == "completed", "\(r)")
            #expect(out[1]["status"]?.stringValue == "active", "\(r)")
            let stats = try await mock.stats()
            #expect((stats["tool_calls"]?.intValue ?? 0) >= 1, "the mock asked for no tool call: \(stats.serialized())")
        }
    }

    /// Records without an accepted question (generated, rejected, finished) are not answered.
    @Test func passesThroughRecordsWithoutAnAcceptedQuestion() async throws {
        let work = try WorkDir()
        let input = try Fixtures.text("dedup_case_whitespace.jsonl") + Fixtures.text("judge_passthrough.jsonl")
        try await withMock(["--seed", "22"]) { mock in
            let r = try await stage("dlg-respond", work, mock, stdin: input)
            try #require(r.status == 0, "\(r)")
            #expect(r.stdout == input, "\(r)")
            let stats = try await mock.stats()
            #expect(stats["chat_completions"]?.intValue == 0, "\(stats.serialized())")
        }
    }

    /// --unordered writes a record the moment it is done: one that needs no answer overtakes one
    /// waiting on the server; in input order it waits behind it.
    @Test func unorderedLetsAFinishedRecordOvertake() async throws {
        let work = try WorkDir()
        let slow = try Fixtures.records("respond_accepted.jsonl")[0]
        var done = slow
        done["conversation_id"] = "fx-done"
        done["status"] = "completed"
        done["pending"] = nil
        try await withMock(["--latency-ms", "300"]) { mock in
            for unordered in [false, true] {
                // --no-cache: a cached answer from the first pass would not wait on the server, and the
                // record it belongs to could then finish first either way.
                let r = try await stage("dlg-respond", work, mock, (unordered ? ["--unordered"] : []) + ["--no-cache"],
                                        stdin: JSONL.text([slow, done]))
                try #require(r.status == 0, "\(r)")
                let ids = try JSONL.records(r.stdout).map { $0["conversation_id"]?.stringValue ?? "" }
                let slowID = slow["conversation_id"]?.stringValue ?? ""
                #expect(ids == (unordered ? ["fx-done", slowID] : [slowID, "fx-done"]), "\(r)")
            }
        }
    }
}
