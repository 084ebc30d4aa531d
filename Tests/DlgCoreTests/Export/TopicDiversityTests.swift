// metrics.json's topic diversity: the one-pass formula against every pair, on the real
// all-MiniLM-L6-v2 vectors (DLG_EMBED_URL); null with the reason without an embedder.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("topic diversity") struct TopicDiversityTests {
    static func record(_ id: String, _ language: String, _ questions: [String]) -> JSONObject {
        JSONObject([("conversation_id", .string(id)), ("language", .string(language)), ("status", "completed"),
                    ("turns", .array(questions.map { .obj(["user_message": .string($0), "assistant_message": "ok"]) }))])
    }

    @Test func theFigureIsTheMeanCosineDistanceOverEveryPair() async throws {
        let e = try SemanticDedupTests.embedder()
        let questions = ["How do I reset my password?", "What's the way to reset my password?",
                         "Which tide gauges report water levels hourly?", "What is the capital of France?"]
        var t = TopicDiversity()
        t.add(Self.record("a", "en", Array(questions[0..<2])))
        t.add(Self.record("b", "fr", Array(questions[2...])))
        let figures = await t.json(embedder: e)
        let vectors = try await onOwnThread { try e.vectors(questions) }
        var pairs: [Double] = []
        for i in 0..<4 { for j in (i + 1)..<4 { pairs.append(1 - SemanticDedupTests.dot(vectors[i], vectors[j])) } }
        let expected = pairs.reduce(0, +) / Double(pairs.count)
        let value = try #require(figures.overall["value"]?.doubleValue)
        #expect(abs(value - expected) < 1e-4, "\(value) against \(expected)")
        let en = try #require(figures.languages["en"]?["value"]?.doubleValue)
        #expect(abs(en - pairs[0]) < 1e-4 && en < 0.1, "the paraphrases are close: \(en)")
        #expect(figures.overall["sampled"] == 4 && figures.overall["model"] == .string(EmbedTestServer.model))

        let none = await t.json(embedder: nil)
        #expect(none.overall["value"] == .null)
        #expect(none.overall["reason"]?.stringValue?.contains("retrieval.embedding_model") == true)
    }

    /// At most 2,000 questions, the same ones whatever the order they come in.
    @Test func theSampleIsBoundedAndIndependentOfOrder() {
        let records = (0..<1100).map { Self.record("c\($0)", "en", ["question \($0) one", "question \($0) two"]) }
        var a = TopicDiversity(), b = TopicDiversity()
        for r in records { a.add(r) }
        for r in records.reversed() { b.add(r) }
        #expect(a.overall.kept.count == 2000 && a.overall.seen == 2200)
        #expect(a.overall.kept.map(\.text) == b.overall.kept.map(\.text))
    }
}
