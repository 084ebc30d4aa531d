// Record status and judge granularity as enums, and the one rule for "has a verdict".

@testable import DlgCore
import Foundation
import Testing

@Suite struct RecordStatusTests {
    @Test func statusesAreUpstreamsStrings() {
        #expect(RecordStatus.allCases.map(\.rawValue) == ["active", "completed", "dropped"])
        #expect(JudgeGranularity.allCases.map(\.rawValue) == ["turn", "conversation"])
        #expect(RecordStatus(rawValue: "Active") == nil)
    }

    @Test func aRecordWithoutStatusIsActive() {
        #expect(Record.status(["status": "completed"]) == .completed)
        #expect(Record.status(["status": "dropped"]) == .dropped)
        #expect(Record.status([:]) == .active)
        #expect(Record.status(["status": "weird"]) == .active)
    }

    @Test func dropReasonsAreTheSummarysKeys() {
        #expect(DropReason.dedupExhausted.rawValue == "dedup_exhausted")
        #expect(DropReason.llmUnavailable.rawValue == "llm_unavailable")
        #expect(DropReason(rawValue: "echoed_question") == .echoedQuestion)
        var r: JSONObject = ["conversation_id": "c", "status": "active"]
        Record.drop(&r, reason: .wrongLanguage, detail: "de")
        #expect(Record.status(r) == .dropped)
        #expect(r["drop_reason"] == "wrong_language")
    }
}

@Suite struct JudgementTests {
    @Test func onlyANonEmptyEnabledObjectIsAVerdict() {
        #expect(!Judgement.isVerdict(nil))
        #expect(!Judgement.isVerdict(.null))
        #expect(!Judgement.isVerdict(.obj([:])), "an empty object is not yet judged")
        #expect(!Judgement.isVerdict(.obj(["score": 0, "notes": "disabled"])), "upstream's placeholder without a judge")
        #expect(!Judgement.isVerdict("7"))
        #expect(Judgement.isVerdict(.obj(["score": 7, "notes": "fine"])))
        #expect(Judgement.isVerdict(.obj(["score": 0])))
    }

    @Test func anyTurnOrTheConversationCounts() {
        let unjudged: JSONObject = ["turns": [.obj(["qa_judge": .obj([:])]), .obj(["user_message": "q"])]]
        #expect(!Judgement.hasAnyVerdict(unjudged))
        #expect(!Judgement.hasAnyVerdict(["turns": [.obj(["qa_judge": .obj(["notes": "disabled"])])],
                                          "conversation_judge": .obj(["notes": "disabled"])]))
        #expect(Judgement.hasAnyVerdict(["turns": [.obj(["qa_judge": .obj([:])]), .obj(["qa_judge": .obj(["score": 6])])]]))
        #expect(Judgement.hasAnyVerdict(["turns": [], "conversation_judge": .obj(["score": 9])]))
    }
}

@Suite struct TokenUsageTests {
    @Test func usageAddsUpAndRoundTripsThroughJSON() {
        var a = TokenUsage(json: .obj(["prompt_tokens": 10, "completion_tokens": 5, "requests": 1]))
        a += TokenUsage(json: .obj(["prompt_tokens": 3, "completion_tokens": 2, "requests": 2]))
        #expect(a.promptTokens == 13 && a.completionTokens == 7 && a.requests == 3)
        #expect(a.json["total_tokens"] == 20)
        #expect(TokenUsage(json: a.json) == a)
        #expect(TokenUsage(json: nil) == TokenUsage())
    }

    @Test func searchResultsGainTheirRenderedText() {
        let result: JSON = .obj(["query": "chain", "results": [.obj(["source": "bike.md", "content": "oil it"])]])
        #expect(ToolCallResult.withRendered(result)["rendered"] == "[bike.md] oil it")
        let empty: JSON = .obj(["query": "x", "results": []])
        #expect(ToolCallResult.withRendered(empty)["rendered"]?.stringValue?.hasPrefix("Knowledge base is empty") == true)
        let rendered: JSON = .obj(["results": [], "rendered": "kept"])
        #expect(ToolCallResult.withRendered(rendered)["rendered"] == "kept")
    }
}
