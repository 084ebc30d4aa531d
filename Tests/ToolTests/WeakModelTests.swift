// A weak model's failures, driven by the mock's fault modes: each is detected, retried within a bound,
// and otherwise the dialogue is dropped with a specific drop_reason; nothing invalid reaches the dataset.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct WeakModelTests {
    /// Starts 2 dialogues with dlg-gen against a mock with `fault` at rate 1.
    func generate(fault: String) async throws -> (ToolResult, [JSONObject], WorkDir) {
        let work = try WorkDir(label: "weak-gen")
        try work.setConfig("run.target_languages", "[en]")
        let r = try await withMock(["--seed", "3", fault, "1"]) { mock in
            try await stage("dlg-gen", work, mock, ["--new", "2", "--language", "en", "--run-id", "weak"])
        }
        return (r, try JSONL.records(r.stdout), work)
    }

    /// Two dialogues with accepted questions from a clean mock, then dlg-respond against a faulty one.
    func respond(fault: String) async throws -> (ToolResult, [JSONObject], WorkDir) {
        let work = try WorkDir(label: "weak-respond")
        try work.setConfig("run.target_languages", "[en]")
        let accepted = try await withMock(["--seed", "3"]) { mock -> String in
            let gen = try await stage("dlg-gen", work, mock, ["--new", "2", "--language", "en", "--run-id", "weak"])
            #expect(gen.status == 0, "\(gen)")
            let dedup = try await stage("dlg-dedup", work, mock, stdin: gen.stdout)
            #expect(dedup.status == 0, "\(dedup)")
            return dedup.stdout
        }
        let r = try await withMock(["--seed", "3", fault, "1"]) { mock in
            try await stage("dlg-respond", work, mock, stdin: accepted)
        }
        return (r, try JSONL.records(r.stdout), work)
    }

    func expectDropped(_ records: [JSONObject], _ reason: String, _ r: ToolResult,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(records.count == 2, "\(r)", sourceLocation: sourceLocation)
        for rec in records {
            #expect(rec["status"] == "dropped", "\(rec["status"]?.serialized() ?? "")\n\(r)", sourceLocation: sourceLocation)
            #expect(rec["drop_reason"]?.stringValue == reason,
                    "drop_reason \(rec["drop_reason"]?.serialized() ?? "nil"), detail \(rec["drop_detail"]?.serialized() ?? "")",
                    sourceLocation: sourceLocation)
            #expect(rec["pending"] == nil || rec["pending"] == .null, sourceLocation: sourceLocation)
        }
    }

    /// The dropped records never reach the dataset files.
    func expectNothingExported(_ records: [JSONObject], _ work: WorkDir) async throws {
        let export = try await stage("dlg-export", work, nil, stdin: JSONL.text(records))
        #expect(export.status == 0, "\(export)")
        #expect(try work.read("outputs/conversations_index.jsonl").isEmpty)
        #expect(try work.read("outputs/turns.jsonl").isEmpty)
        #expect(work.files(under: "outputs/conversations").isEmpty)
    }

    @Test func truncatedJSONIsDroppedAsInvalidOutput() async throws {
        let (r, records, work) = try await generate(fault: "--fault-truncated")
        defer { work.cleanup() }
        #expect(r.status == 0, "\(r)")
        expectDropped(records, "invalid_output", r)
        try await expectNothingExported(records, work)
    }

    @Test func missingFieldsAreDroppedAsInvalidOutput() async throws {
        let (r, records, work) = try await generate(fault: "--fault-missing-fields")
        defer { work.cleanup() }
        expectDropped(records, "invalid_output", r)
    }

    @Test func wrongTypesAreDroppedAsInvalidOutput() async throws {
        let (r, records, work) = try await generate(fault: "--fault-wrong-types")
        defer { work.cleanup() }
        expectDropped(records, "invalid_output", r)
    }

    @Test func proseInsteadOfJSONIsDroppedAsInvalidOutput() async throws {
        let (r, records, work) = try await generate(fault: "--fault-malformed")
        defer { work.cleanup() }
        expectDropped(records, "invalid_output", r)
    }

    @Test func emptyQuestionsAreDroppedAsEmptyQuestion() async throws {
        let (r, records, work) = try await generate(fault: "--fault-empty")
        defer { work.cleanup() }
        expectDropped(records, "empty_question", r)
    }

    @Test func questionsInTheWrongLanguageAreDropped() async throws {
        let (r, records, work) = try await generate(fault: "--fault-wrong-language")
        defer { work.cleanup() }
        expectDropped(records, "wrong_language", r)
    }

    @Test func emptyAnswersAreDroppedAsEmptyAnswer() async throws {
        let (r, records, work) = try await respond(fault: "--fault-empty")
        defer { work.cleanup() }
        #expect(r.status == 0, "\(r)")
        expectDropped(records, "empty_answer", r)
        try await expectNothingExported(records, work)
    }

    @Test func echoedQuestionsAreDroppedAsEchoedQuestion() async throws {
        let (r, records, work) = try await respond(fault: "--fault-echo")
        defer { work.cleanup() }
        expectDropped(records, "echoed_question", r)
    }

    @Test func answersInTheWrongLanguageAreDropped() async throws {
        let (r, records, work) = try await respond(fault: "--fault-wrong-language")
        defer { work.cleanup() }
        expectDropped(records, "wrong_language", r)
    }

    @Test func occasionalFaultsAreRetriedAndTheRunCompletes() async throws {
        let work = try WorkDir(label: "weak-retry")
        defer { work.cleanup() }
        try work.setConfig("run.target_languages", "[en]")
        try work.setConfig("run.total_samples", "4")
        try work.setConfig("run.max_turns", "2")
        try work.setConfig("llm.max_retries", "6")
        try await withMock(["--seed", "5", "--fault-429", "0.15", "--fault-500", "0.1", "--retry-after", "0",
                            "--fault-truncated", "0.1"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "retry")
            #expect(r.status == 0, "\(r)")
            #expect(summary?["completed"]?["en"]?.intValue == 4, "\(r)")
            let stats = try await mock.stats()
            #expect(stats.serialized().contains("429"), "mock stats: \(stats.serialized())")
        }
        // Every turn in the dataset is valid: a question and a non-empty answer.
        for t in try work.records("outputs/turns.jsonl") {
            #expect(ReplyValidation.looksLikeQuestion(t["user_message"]?.stringValue ?? ""))
            let answer = t["assistant_message"]?.stringValue ?? ""
            #expect(!answer.isEmpty)
        }
    }

    @Test func jsonSchemaRejectionFallsBackToJSONObject() async throws {
        let work = try WorkDir(label: "weak-fallback")
        defer { work.cleanup() }
        try work.setConfig("run.target_languages", "[en]")
        try await withMock(["--seed", "3", "--no-json-schema-support"]) { mock in
            let r = try await stage("dlg-gen", work, mock, ["--new", "2", "--language", "en", "--run-id", "fb"])
            #expect(r.status == 0, "\(r)")
            let records = try JSONL.records(r.stdout)
            #expect(records.allSatisfy { $0["pending"]?["state"] == "generated" }, "\(r)")
            let stats = try await mock.stats().serialized()
            #expect(stats.contains("json_object"), "mock stats: \(stats)")
        }
    }

    @Test func aJudgeReplyThatCannotBeReadIsRecordedNotFatal() async throws {
        let work = try WorkDir(label: "weak-judge")
        defer { work.cleanup() }
        try work.setConfig("run.target_languages", "[en]")
        let answered = try await withMock(["--seed", "3"]) { mock -> String in
            let gen = try await stage("dlg-gen", work, mock, ["--new", "2", "--language", "en", "--run-id", "wj"])
            let dedup = try await stage("dlg-dedup", work, mock, stdin: gen.stdout)
            return try await stage("dlg-respond", work, mock, stdin: dedup.stdout).stdout
        }
        let r = try await withMock(["--seed", "3", "--fault-wrong-types", "1"]) { mock in
            try await stage("dlg-judge", work, mock, stdin: answered)
        }
        #expect(r.status == 0, "\(r)")
        for rec in try JSONL.records(r.stdout) {
            #expect(rec["status"] != "dropped")
            for t in rec["turns"]?.arrayValue ?? [] {
                #expect(t["qa_judge"]?["notes"] == "judge parse failure", "\(t["qa_judge"]?.serialized() ?? "")")
                #expect(t["qa_judge"]?["score"] == 0)
            }
        }
    }
}
