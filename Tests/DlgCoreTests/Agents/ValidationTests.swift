// The rules a reply must pass before a stage keeps it: scores, echoes, copied passages, placeholders.

@testable import DlgCore
import Foundation
import Testing

@Suite struct ValidationTests {
    @Test func judgeScoreClampedAndReasonsKeptToAllowedSet() throws {
        let o = try #require(ReplyJSON.extract(#"Sure: {"score": 14, "reasons": ["vague", "made_up", "vague"], "notes": "x"}"#))
        let v = try ReplyValidation.judge(o, reasons: ["vague", "other"]).get()
        #expect(v["score"] == 10)
        #expect(v["reasons"] == ["vague", "other"])
        #expect(v["question_ok"] == true)
        let bad = try #require(ReplyJSON.extract(#"{"score": "high"}"#))
        #expect(throws: DropReason.self) { try ReplyValidation.judge(bad, reasons: ["other"]).get() }
    }

    @Test func answerEchoAndEmptyAreRejected() throws {
        let echo: JSONObject = ["assistant_message": "  What is X? ", "reasoning_trace": .obj([:])]
        #expect(throws: DropReason.echoedQuestion) { try ReplyValidation.answer(echo, question: "what is  x?").get() }
        let empty: JSONObject = ["assistant_message": " "]
        #expect(throws: DropReason.emptyAnswer) { try ReplyValidation.answer(empty, question: "q").get() }
        let wrongType: JSONObject = ["assistant_message": 3]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.answer(wrongType, question: "q").get() }
    }

    @Test func copiedPassageIsNotAQuestion() {
        let passage = "A chain should be cleaned and lubricated every 300 to 500 kilometres, and after any ride in the rain."
        let o: JSONObject = ["user_message": .string(passage)]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(o, snippets: [passage]).get() }
    }

    @Test func extractsJSONFromFencesAndProse() {
        #expect(ReplyJSON.extract("```json\n{\"a\": 1}\n```")?["a"] == 1)
        #expect(ReplyJSON.extract("no json here") == nil)
        #expect(ReplyJSON.extract("{\"a\": \"cut") == nil)
    }
}

@Suite struct WeakModelTests {
    @Test func placeholdersAndNonQuestionsAreRejected() {
        let template: JSONObject = ["user_message": "<the question, in en, under 300 characters>"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(template, snippets: []).get() }
        let statement: JSONObject = ["user_message": "1. Your answer must explain itself."]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(statement, snippets: []).get() }
        let ok: JSONObject = ["user_message": "Pourquoi mon compost sent-il mauvais ?"]
        #expect((try? ReplyValidation.question(ok, snippets: []).get()) != nil)
        let imperative: JSONObject = ["user_message": "Explain how often to feed a starter"]
        #expect((try? ReplyValidation.question(imperative, snippets: []).get()) != nil)
        let answer: JSONObject = ["assistant_message": "<the answer, in en>"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.answer(answer, question: "q?").get() }
    }
}

@Suite struct EchoTests {
    @Test func rewordedEchoAndPathAnswersAreRejected() {
        let q = "You are asked to create a plan to bake a cake. What steps should you take?"
        let echo: JSONObject = ["assistant_message": "A plan to bake a cake. What steps should you take?"]
        #expect(throws: DropReason.echoedQuestion) { try ReplyValidation.answer(echo, question: q).get() }
        let path: JSONObject = ["assistant_message": "./a/assistant_message_1.json"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.answer(path, question: q).get() }
        let real: JSONObject = ["assistant_message": "Mix flour, sugar and eggs, then bake for 30 minutes at 180 degrees."]
        #expect((try? ReplyValidation.answer(real, question: q).get()) != nil)
        let narrated: JSONObject = ["user_message": "The user asked: How do I feed a starter?"]
        #expect((try? ReplyValidation.question(narrated, snippets: []).get())?["user_message"] == "How do I feed a starter?")
    }
}

@Suite struct CopiedPassageTests {
    @Test func aPassageWithAQuestionMarkAddedIsStillACopy() {
        let passage = "The pile should feel like a wrung-out sponge. If it is dry, add water or fresh greens; if it is soggy, add browns and turn it."
        let copy: JSONObject = ["user_message": "The pile should feel like a wrung-out sponge. If it is dry, add water?"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(copy, snippets: [passage]).get() }
        let own: JSONObject = ["user_message": "How wet should my compost pile be?"]
        #expect((try? ReplyValidation.question(own, snippets: [passage]).get()) != nil)
    }

    @Test func theQuestionSchemaAsksForAQuestionMark() {
        let pattern = AgentSchemas.qaGeneration["properties"]?["user_message"]?["pattern"]?.stringValue ?? ""
        let regex = try! Regex(pattern)
        #expect("How wet should my compost be?".wholeMatch(of: regex) != nil)
        #expect("Comment fonctionne la chaîne ?".wholeMatch(of: regex) != nil)
        #expect("The pile should feel like a sponge.".wholeMatch(of: regex) == nil)
    }
}
