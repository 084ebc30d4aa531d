// Export sanitization (upstream's tests/test_hf_push_sanitization.py), dataset card front matter
// (test_hf_push_dataset_card.py), the card's stats without generate_stats, and upstream's language
// names: card codes, the wrong-language check and the retrieval-query placeholders.

import DlgTestSupport
import Foundation
import Testing
@testable import DlgCore

@Suite struct ExportSanitizationTests {
    func trace(_ t: JSON) throws -> JSONObject {
        let row = HubSanitize.reasoning(.array([.obj(["reasoning_trace": t])]))
        return try #require(row?.arrayValue?.first?["reasoning_trace"]?.objectValue)
    }

    @Test func thinkingBecomesTextOnlyWithUpstreamsFallbacks() throws {
        let t = try trace(.obj(["thinking": [
            .obj(["text": "Use passage P1", "assumption": "P1 is representative"]),
            .obj(["assumption": "fallback when text is absent"]),
            .obj(["text": "already clean"]),
            "freeform",
            nil,
        ]]))
        #expect(t["thinking"] == [.obj(["text": "Use passage P1"]), .obj(["text": "fallback when text is absent"]),
                                  .obj(["text": "already clean"]), .obj(["text": "freeform"]), .obj(["text": ""])])
    }

    @Test func missingTraceKeysAreFilledWithEmptyValues() throws {
        let t = try trace(.obj(["question": "q1"]))
        #expect(t["question"] == "q1")
        #expect(t["retrieval_queries"] == .obj(["vector_db_search": [], "web_search": []]))
        #expect(t["evidence"] == [] && t["premises"] == [] && t["thinking"] == [])
        #expect(t["confidence"] == "" && t["known_limits"] == [])
        let kept = try trace(.obj(["thinking": [.obj(["text": "a"]), .obj(["text": "b"])]]))
        #expect(kept["thinking"] == [.obj(["text": "a"]), .obj(["text": "b"])] && kept["question"] == "")
    }

    @Test func nullEntriesAreDroppedFromLists() throws {
        let t = try trace(.obj([
            "question": "q1",
            "retrieval_queries": .obj(["vector_db_search": [nil, "a", ""], "web_search": [nil, "w1"]]),
            "evidence": [], "premises": [], "thinking": [.obj(["text": "t"])], "confidence": "c",
            "known_limits": [nil, "k1"],
        ]))
        #expect(t["retrieval_queries"]?["vector_db_search"] == ["a"])
        #expect(t["retrieval_queries"]?["web_search"] == ["w1"])
        #expect(t["known_limits"] == ["k1"])
    }

    @Test func premisesAndEvidenceGetTheirFixedKeys() throws {
        let t = try trace(.obj([
            "evidence": [.obj(["id": "E1", "content": "c", "extra": 1]), "loose evidence"],
            "premises": [.obj(["id": "P1", "text": "p", "evidence_refs": ["E1", nil], "note": true]), "loose premise"],
        ]))
        #expect(t["evidence"] == [.obj(["id": "E1", "cue": "", "content": "c"]), .obj(["id": "", "cue": "", "content": "loose evidence"])])
        #expect(t["premises"] == [.obj(["id": "P1", "text": "p", "evidence_refs": ["E1"], "assumption": "true"]),
                                  .obj(["id": "", "text": "loose premise", "evidence_refs": [], "assumption": ""])])
    }
}

@Suite struct DatasetCardTests {
    /// An outputs folder with two exported rows and the given hf_push settings; the card it gets.
    func card(hfPush: String, languages: [String] = ["morocco", "english"]) throws -> String {
        let work = try WorkDir(copyExamples: false, label: "card")
        try work.write("config.yaml", "saving:\n  hf_push: \(hfPush)\n")
        let rows = languages.enumerated().map { i, lang in
            JSON.obj(["messages": [.obj(["role": "user", "content": .string("q \(i)")]), .obj(["role": "assistant", "content": .string("a \(i)")])],
                      "metadata": .obj(["conversation_id": .string("c\(i)"), "language": .string(lang), "n_turns": 1]),
                      "assistant_reasoning": [.obj(["turn_index": 1, "reasoning_trace": .obj(["question": "q"])])]]).serialized()
        }
        try work.write("outputs/conversations_sharegpt_judged.jsonl", rows.joined(separator: "\n") + "\n")
        let settings = try Settings.load(path: work.file("config.yaml").path, environment: [:])
        _ = try HubExport.prepare(settings: settings)
        let data = try work.records("outputs/hf_export/conversations_sharegpt_judged.jsonl")
        #expect(data.first?["assistant_reasoning"]?.arrayValue?.first?["reasoning_trace"]?["known_limits"] == [])
        return try work.read("outputs/hf_export/README.md")
    }

    @Test func frontMatterPinsTheTrainSplitToTheSourceFile() throws {
        let c = try card(hfPush: "{repo_id: org/demo-dataset}")
        for line in ["---\nconfigs:\n", "- config_name: default", "- split: train", "path: conversations_sharegpt_judged.jsonl",
                     "task_categories:\n- question-answering", "# demo-dataset"] {
            #expect(c.contains(line), "card lacks \(line):\n\(c)")
        }
    }

    @Test func languageListUsesISOCodesTheHubAccepts() throws {
        let c = try card(hfPush: "{}", languages: ["morocco", "msa", "gulf", "levantine", "english", "klingon"])
        let frontMatter = c.components(separatedBy: "---\n").dropFirst().first ?? ""
        #expect(frontMatter.contains("language:\n- en\n- afb\n- apc\n- ary\n- arb\ntask_categories:"), "\(c)")
        #expect(!frontMatter.contains("morocco") && !frontMatter.contains("klingon"), "\(frontMatter)")
    }

    @Test func statsSectionIsRightWithoutGenerateStats() throws {
        let c = try card(hfPush: "{generate_stats: false}")
        #expect(c.contains("- conversations: 2"), "\(c)")
        #expect(!c.contains("conversations: 0"))
        #expect(!c.contains("dataset_stats.json"), "no stats file is named when none is written")
    }
}

@Suite struct LanguageNameTests {
    let english = "How do I descale the kettle when the water in my area is very hard and the filter is old?"
    let arabic = "كيف يمكنني إزالة الترسبات من الغلاية عندما يكون الماء في منطقتي عسراً جداً؟"
    let spanish = "¿Cómo puedo quitar la cal del hervidor cuando el agua de mi zona es muy dura y el filtro es viejo?"

    @Test func arabicVarietiesAreCheckedByScript() {
        for variety in ["morocco", "msa", "gulf", "levantine", "egyptian", "saudi", "uae", "ar"] {
            #expect(LanguageCheck.isWrong(english, language: variety), "\(variety): English text passed")
            #expect(!LanguageCheck.isWrong(arabic, language: variety), "\(variety): Arabic text failed")
        }
    }

    @Test func otherLanguagesAreCheckedByName() {
        #expect(LanguageCheck.isWrong(english, language: "spanish"))
        #expect(!LanguageCheck.isWrong(spanish, language: "spanish"))
        #expect(LanguageCheck.isWrong(spanish, language: "english"))
        #expect(!LanguageCheck.isWrong(english, language: "english"))
        #expect(!LanguageCheck.isWrong(english, language: "klingon"), "an unknown language is not checked")
    }

    @Test func retrievalQueryPlaceholdersAreUpstreams() {
        let t = ReasoningTrace.normalize(.init([("retrieval_queries", .obj(["vector_db_search": [
            "morocco", "Moroccan", "saudi", "uae", "egypt", "ok", "descaling kettle", "msa",
        ]]))]), question: "q")
        #expect(t["retrieval_queries"]?["vector_db_search"] == ["descaling kettle", "msa"])
    }
}
