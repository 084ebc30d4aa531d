// dlg-dedup: normalized exact-match dedup against the coverage ledger; idempotent reruns.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-dedup") struct DedupTests {
    static func states(_ r: ToolResult) throws -> [String] {
        try JSONL.records(r.stdout).map { $0["pending"]?["state"]?.stringValue ?? "<none>" }
    }

    @Test func questionsThatDifferOnlyInCaseAndSpacesAreDuplicates() async throws {
        let work = try WorkDir()
        let input = try Fixtures.text("dedup_case_whitespace.jsonl")
        let first = try Fixtures.records("dedup_case_whitespace.jsonl")[0]

        let r = try await stage("dlg-dedup", work, nil, stdin: input)
        try #require(r.status == 0, "\(r)")
        #expect(try Self.states(r) == ["accepted", "rejected"], "\(r)")
        let ledgerText = try work.read("outputs/coverage_ledger.jsonl")
        let ledger = try JSONL.records(ledgerText)
        try #require(ledger.count == 1, "ledger: \(ledgerText)\n\(r)")
        let entry = ledger[0]
        #expect(missing(UpstreamKeys.ledger, in: entry.keySet).isEmpty, "ledger keys \(entry.keys)")
        #expect(entry["question"] == first["pending"]?["user_message"], "\(JSON.object(entry).serialized())")
        #expect(entry["conversation_id"]?.stringValue == "fx-dedup-0000", "\(JSON.object(entry).serialized())")
        let hash = entry["question_hash"]?.stringValue ?? ""
        #expect(hash.count == 16 && hash.allSatisfy(\.isHexDigit), "question_hash \(hash)")

        // The same input again (a pass run twice after a crash): the same decisions, nothing new stored.
        let again = try await stage("dlg-dedup", work, nil, stdin: input)
        try #require(again.status == 0, "\(again)")
        #expect(try Self.states(again) == ["accepted", "rejected"], "\(again)")
        #expect(again.stdout == r.stdout, "a rerun must give the same records\nfirst:\n\(r)\nagain:\n\(again)")
        let ledgerAgain = try work.read("outputs/coverage_ledger.jsonl")
        #expect(try JSONL.records(ledgerAgain).count == 1, "ledger after the rerun:\n\(ledgerAgain)")
    }

    /// `--ledger` picks the store; a question accepted earlier in the run (another dialogue) is a duplicate.
    @Test func rejectsQuestionsAlreadyInTheLedger() async throws {
        let work = try WorkDir()
        let records = try Fixtures.records("dedup_case_whitespace.jsonl")
        let question = records[0]["pending"]?["user_message"]?.stringValue ?? ""
        let earlier = JSON.obj([
            "timestamp": "2026-11-20T09:00:00Z", "topic_id": "t", "source_path": "sourdough_starter.txt",
            "question": .string(question.uppercased()), "question_hash": "0000000000000000", "question_mode": "fresh",
            "seed_topic": "", "seed_question": "", "seed_question_hash": "", "conversation_id": "earlier-0007",
            "turn_index": 1,
        ])
        try work.write("store/ledger.jsonl", earlier.serialized() + "\n")
        let r = try await stage("dlg-dedup", work, nil, ["--ledger", work.file("store/ledger.jsonl").path],
                                stdin: JSONL.text(records))
        try #require(r.status == 0, "\(r)")
        #expect(try Self.states(r) == ["rejected", "rejected"], "\(r)")
        #expect(try work.records("store/ledger.jsonl").count == 1)
        #expect(!work.exists("outputs/coverage_ledger.jsonl"), "--ledger must replace the default store")
    }

    /// Records with nothing to decide (no pending question, or one already decided) pass through as they are.
    @Test func passesThroughRecordsWithNothingToDecide() async throws {
        let work = try WorkDir()
        let input = try Fixtures.text("judge_unjudged.jsonl") + Fixtures.text("respond_accepted.jsonl")
        let r = try await stage("dlg-dedup", work, nil, stdin: input)
        try #require(r.status == 0, "\(r)")
        #expect(r.stdout == input, "\(r)")
    }

    /// `coverage.near_dedup_threshold` (here from NEAR_DEDUP_THRESHOLD): a question a word longer
    /// than one accepted before is rejected, and the log says near_duplicate, the question it matched
    /// (the ledger's question_hash) and the similarity; the run's rejections file has its line with
    /// both questions.
    @Test func nearDuplicatesAreRejectedAndLogged() async throws {
        let work = try WorkDir(copyExamples: false, label: "neardup")
        try work.writeConfig("run:\n  run_id: near\n")
        let questions = ["How long should I let my sourdough starter rest after feeding it before we bake?",
                         "How long should I let my young sourdough starter rest after feeding it, before we bake?",
                         "Which flour gives the most open crumb in a rye loaf?"]
        let input = JSONL.text(pendingRecords(questions, prefix: "n").map { r in
            var r = r
            r["run_id"] = "near"
            return r
        })
        let off = try await stage("dlg-dedup", work, nil, ["--ledger", work.file("off.jsonl").path], stdin: input)
        try #require(off.status == 0, "\(off)")
        #expect(try Self.states(off) == ["accepted", "accepted", "accepted"], "threshold 0, the default: \(off)")

        let r = try await stage("dlg-dedup", work, nil, stdin: input, env: ["NEAR_DEDUP_THRESHOLD": "0.8"])
        try #require(r.status == 0, "\(r)")
        #expect(try Self.states(r) == ["accepted", "rejected", "accepted"], "\(r)")
        let ledger = try work.records("outputs/coverage_ledger.jsonl")
        let hash = try #require(ledger.first?["question_hash"]?.stringValue)
        let log = try work.read("logs/run.log")
        #expect(log.contains("near_duplicate matched=\(hash) similarity=0.938"), "\(log)")
        #expect(!log.contains("duplicate question"), "a near duplicate is not counted as an exact one: \(log)")
        let rejections = try work.records("outputs/run_state/near/dedup_rejections.jsonl")
        try #require(rejections.count == 1, "\(rejections)")
        #expect(rejections[0]["kind"] == "near_duplicate" && rejections[0]["matched_question_hash"]?.stringValue == hash)
        #expect(rejections[0]["question"]?.stringValue == questions[1] && rejections[0]["matched_question"]?.stringValue == questions[0])
        #expect(rejections[0]["similarity"] == .double(0.938) && rejections[0]["conversation_id"] == "n-1")
    }

    /// A near duplicate counts like an exact one: at the last of `coverage.question_dedup_retries`
    /// (here 1) dlg-gen drops the dialogue with `dedup_exhausted` instead of asking again.
    @Test func aNearDuplicateAtTheLastRetryExhaustsTheDialogue() async throws {
        let work = try WorkDir(label: "near-exhausted")
        let questions = ["How long should I let my sourdough starter rest after feeding it before we bake?",
                         "How long should I let my young sourdough starter rest after feeding it before we bake?"]
        let records = pendingRecords(questions, prefix: "x").map { r in
            var r = r
            r["run_id"] = "x"
            var p = r["pending"]?.objectValue ?? [:]
            p["attempt"] = 2
            r["pending"] = .object(p)
            return r
        }
        let env = ["NEAR_DEDUP_THRESHOLD": "0.8", "QUESTION_DEDUP_RETRIES": "1"]
        let dedup = try await stage("dlg-dedup", work, nil, stdin: JSONL.text(records), env: env)
        try #require(dedup.status == 0, "\(dedup)")
        #expect(try Self.states(dedup) == ["accepted", "rejected"], "\(dedup)")
        let gen = try await stage("dlg-gen", work, nil, stdin: String(dedup.stdout.split(separator: "\n")[1]) + "\n", env: env)
        try #require(gen.status == 0, "\(gen)")
        let out = try JSONL.records(gen.stdout)
        #expect(out.first?["status"] == "dropped" && out.first?["drop_reason"] == "dedup_exhausted", "\(gen)")
    }

    @Test func aThresholdOutsideZeroToOneIsAConfigError() async throws {
        let work = try WorkDir(copyExamples: false, label: "neardup-bad")
        try work.writeConfig("coverage:\n  near_dedup_threshold: 1.5\n")
        let r = try await stage("dlg-dedup", work, nil, stdin: "")
        #expect(r.status == 78 && r.stderr.contains("coverage.near_dedup_threshold"), "\(r)")
    }
}
