// dlg-judge: a verdict per answered turn (or per dialogue), nothing else touched.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-judge") struct JudgeTests {
    static let reasons: Set<String> = ["vague", "incomplete", "other"]

    @Test func judgesEveryAnsweredTurnWithTheConfiguredReasons() async throws {
        let work = try WorkDir()
        try work.setConfig("judge.reasons", "[vague, incomplete, other]")
        let input = try Fixtures.records("judge_unjudged.jsonl")
        try await withMock(["--seed", "31"]) { mock in
            let r = try await stage("dlg-judge", work, mock, stdin: JSONL.text(input))
            try #require(r.status == 0, "\(r)")
            let out = try JSONL.records(r.stdout)
            try #require(out.count == input.count, "\(r)")
            var judged = 0
            for (i, rec) in out.enumerated() {
                #expect(rec["conversation_id"] == input[i]["conversation_id"], "\(r)")
                #expect(rec["status"] == input[i]["status"], "\(r)")
                let turns = rec["turns"]?.arrayValue ?? []
                #expect(turns.count == input[i]["turns"]?.arrayValue?.count, "\(r)")
                for t in turns {
                    checkVerdict(t["qa_judge"], allowed: Self.reasons, "record \(i) turn \(t["turn_index"]?.intValue ?? -1)\n\(r)")
                    judged += 1
                }
            }
            #expect(judged == 3, "\(r)")
            let stats = try await mock.stats()
            #expect(stats["agents"]?["qa_judge"]?.intValue == 3, "one judge call per turn: \(stats.serialized())")
        }
    }

    /// Dropped dialogues, dialogues without answers and fully judged ones come back byte for byte
    /// (spacing, escapes and key order kept), and the judge is not called.
    @Test func passesThroughRecordsThatNeedNothingByteForByte() async throws {
        let work = try WorkDir()
        let input = try Fixtures.text("judge_passthrough.jsonl")
        try await withMock(["--seed", "32"]) { mock in
            let r = try await stage("dlg-judge", work, mock, stdin: input)
            try #require(r.status == 0, "\(r)")
            #expect(r.stdout == input, "\(r)")
            let stats = try await mock.stats()
            #expect(stats["chat_completions"]?.intValue == 0, "\(stats.serialized())")
        }
    }

    /// judge.mode offline: the pipe's judge does nothing; `--offline` is the judge-only pass.
    @Test func offlineModeJudgesOnlyWithTheOfflineFlag() async throws {
        let work = try WorkDir()
        try work.setConfig("judge.mode", "offline")
        let input = try Fixtures.text("judge_unjudged.jsonl")
        try await withMock(["--seed", "33"]) { mock in
            let off = try await stage("dlg-judge", work, mock, stdin: input)
            try #require(off.status == 0, "\(off)")
            #expect(off.stdout == input, "\(off)")
            let on = try await stage("dlg-judge", work, mock, ["--offline"], stdin: input)
            try #require(on.status == 0, "\(on)")
            let allowed = Set(ConfigDefaultReasons.all)
            for rec in try JSONL.records(on.stdout) {
                for t in rec["turns"]?.arrayValue ?? [] { checkVerdict(t["qa_judge"], allowed: allowed, "\(on)") }
            }
        }
    }

    /// --granularity conversation: one verdict per completed dialogue, none on open ones.
    @Test func conversationGranularityJudgesCompletedDialogues() async throws {
        let work = try WorkDir()
        let input = try Fixtures.records("judge_unjudged.jsonl")
        try await withMock(["--seed", "34"]) { mock in
            let r = try await stage("dlg-judge", work, mock, ["--granularity", "conversation"], stdin: JSONL.text(input))
            try #require(r.status == 0, "\(r)")
            let lines = r.stdoutLines
            try #require(lines.count == 2, "\(r)")
            #expect(lines[0] == JSON.object(input[0]).serialized(), "the open dialogue must pass through\n\(r)")
            let completed = try JSONL.object(lines[1])
            checkVerdict(completed["conversation_judge"], allowed: Set(ConfigDefaultReasons.all), "\(r)")
        }
    }
}

/// Upstream's default judge.reasons.
enum ConfigDefaultReasons {
    static let all = ["irrelevant", "incorrect", "hallucinated", "weak_grounding", "vague", "incomplete", "unsafe", "other"]
}
