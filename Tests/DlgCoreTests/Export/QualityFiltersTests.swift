import Foundation
import Testing
@testable import DlgCore

/// Hand-made completed dialogues with the verdicts the tests need.
enum JudgedRecords {
    /// A completed dialogue of `scores.count` turns; a nil score is a turn without a verdict.
    static func make(_ id: String, scores: [Int?], reasons: [[String]] = [], conversation: JSON? = nil,
                     language: String = "en", status: String = "completed") -> JSONObject {
        let turns: [JSON] = scores.enumerated().map { i, s in
            var t: JSONObject = ["turn_index": .int(i + 1), "user_message": .string("Question \(i + 1) of \(id)?"),
                                 "assistant_message": .string("Answer \(i + 1) of \(id).")]
            if let s {
                t["qa_judge"] = .obj(["score": .int(s), "reasons": JSON(i < reasons.count ? reasons[i] : []),
                                      "notes": "hand-made", "question_ok": true, "answer_ok": .bool(s >= 5)])
            }
            return .object(t)
        }
        var r: JSONObject = ["conversation_id": .string(id), "run_id": "hand", "index": 0, "language": .string(language),
                             "target_turns": .int(max(1, scores.count)), "status": .string(status),
                             "personas": .obj(["user": "A user", "assistant": "An assistant", "user_id": "u", "assistant_id": "a"]),
                             "seed": .obj(["topic": "", "question": ""]), "turns": .array(turns)]
        if let conversation { r["conversation_judge"] = conversation }
        return r
    }
}

@Suite struct QualityFiltersTests {
    @Test func offByDefault() throws {
        let f = try ConfigFixture("run:\n  batch_size: 1\n")
        defer { f.cleanup() }
        let s = try f.load()
        #expect(!s.filters.isActive)
        #expect(s.filters.failing(JudgedRecords.make("a", scores: [1])) == nil)
    }

    @Test func scoreAtTheThresholdPasses() {
        let filters = QualityFilterSettings(minJudgeScore: 7)
        #expect(filters.failing(JudgedRecords.make("at", scores: [7])) == nil)
        #expect(filters.failing(JudgedRecords.make("mean-at", scores: [6, 8])) == nil)      // mean 7.0
        #expect(filters.failing(JudgedRecords.make("below", scores: [6, 7])) == .minJudgeScore)  // mean 6.5
        #expect(filters.failing(JudgedRecords.make("above", scores: [10])) == nil)
        // Turns without a verdict do not count in the mean.
        #expect(filters.failing(JudgedRecords.make("partly", scores: [8, nil])) == nil)
    }

    @Test func aDialogueWithoutAJudgeFailsTheScoreButPassesTheOthers() {
        let unjudged = JudgedRecords.make("none", scores: [nil, nil])
        #expect(QualityFilters.score(unjudged) == nil)
        #expect(QualityFilterSettings(minJudgeScore: 0).failing(unjudged) == .minJudgeScore)
        #expect(QualityFilterSettings(excludeReasons: ["vague"]).failing(unjudged) == nil)
        #expect(QualityFilterSettings(minTurns: 2).failing(unjudged) == nil)
        // A "disabled" verdict is no verdict.
        let disabled = JudgedRecords.make("disabled", scores: [], conversation: .obj(["score": 9, "reasons": [], "notes": "disabled"]))
        #expect(QualityFilterSettings(minJudgeScore: 1).failing(disabled) == .minJudgeScore)
    }

    @Test func theConversationVerdictScoresWhenTurnsHaveNone() {
        let r = JudgedRecords.make("conv", scores: [nil], conversation: .obj(["score": 8, "reasons": ["vague"], "notes": "ok"]))
        #expect(QualityFilters.score(r) == 8)
        #expect(QualityFilterSettings(minJudgeScore: 8).failing(r) == nil)
        #expect(QualityFilterSettings(minJudgeScore: 8.5).failing(r) == .minJudgeScore)
        #expect(QualityFilterSettings(excludeReasons: ["vague"]).failing(r) == .excludeReasons)
    }

    @Test func excludedReasonsOfAnyTurnRemoveTheDialogue() {
        let r = JudgedRecords.make("reasons", scores: [9, 6], reasons: [[], ["vague", "incomplete"]])
        #expect(QualityFilters.reasons(r) == ["vague", "incomplete"])
        #expect(QualityFilterSettings(excludeReasons: ["incomplete"]).failing(r) == .excludeReasons)
        #expect(QualityFilterSettings(excludeReasons: ["unsafe", "hallucinated"]).failing(r) == nil)
    }

    @Test func minTurnsCountsTheDialoguesTurns() {
        #expect(QualityFilterSettings(minTurns: 2).failing(JudgedRecords.make("one", scores: [9])) == .minTurns)
        #expect(QualityFilterSettings(minTurns: 2).failing(JudgedRecords.make("two", scores: [9, 9])) == nil)
    }

    @Test func aDialogueIsCountedUnderTheFirstFilterItFails() {
        let filters = QualityFilterSettings(minJudgeScore: 5, excludeReasons: ["unsafe"], minTurns: 2)
        var tally = QualityFilters.Tally()
        for r in [JudgedRecords.make("short-low-unsafe", scores: [1], reasons: [["unsafe"]]),
                  JudgedRecords.make("low-unsafe", scores: [1, 1], reasons: [["unsafe"]]),
                  JudgedRecords.make("unsafe", scores: [9, 9], reasons: [["unsafe"]]),
                  JudgedRecords.make("good", scores: [5, 5])] {
            tally.count(filters.failing(r))
        }
        #expect(tally.kept == 1)
        #expect(tally.removed == [.minTurns: 1, .minJudgeScore: 1, .excludeReasons: 1])
        #expect(tally.json.serialized() == #"{"kept":1,"removed":{"min_turns":1,"min_judge_score":1,"exclude_reasons":1}}"#)
    }
}
