import DlgTestSupport
import Foundation
import Testing
@testable import DlgCore

/// report.html's "Dataset quality" section and the card's "Dataset metrics", from a metrics.json and
/// a rejections file written here.
@Suite struct ReportQualityTests {
    static let metrics: JSON = .obj([
        "source_file": "conversations_sharegpt.jsonl",
        "overall": scope(dialogues: 3, distinct2: 0.5512, mtld: 81.26, near: 0.125),
        "languages": .obj(["en": scope(dialogues: 2, distinct2: 0.61, mtld: 90.4, near: 0.2),
                           "fr": scope(dialogues: 1, distinct2: 0.42, mtld: 55.5, near: 0)]),
    ])

    static func scope(dialogues: Int, distinct2: Double, mtld: Double, near: Double) -> JSON {
        .obj(["dialogues": .int(dialogues), "turns": .int(dialogues * 2), "mean_words_per_message": .obj(["all": 21.04]),
              "distinct_1": 0.3, "distinct_2": .double(distinct2), "distinct_3": 0.7, "mtld": .double(mtld),
              "dedup_rejected_share": .obj(["exact": 0.05, "near": .double(near), "semantic": 0, "candidates": 40]),
              "kb_coverage": .obj(["documents": 4, "documents_retrieved": 3, "document_share": 0.75, "chunk_gini": 0.31]),
              "judge": .obj(["turn_score_histogram": .obj(["7": 1, "8": 4, "9": 2])]),
              "topic_diversity": .obj(["value": .null, "reason": "no embedding model"])])
    }

    static let hostile = "What does <script>window.pwned=1</script> & \"it\" do?"

    /// Three near and one semantic rejection of run `hand` (one line twice, as a resumed run may write
    /// it), one exact (not a pair to show), and one of another run.
    static func writeRejections(outputDir: String) throws {
        func line(_ run: String, _ id: String, _ attempt: Int, _ kind: DedupRejections.Kind, _ q: String, _ m: String?, _ s: Double) -> (runID: String, line: JSON) {
            (run, DedupRejections.line(runID: run, conversationID: id, turnIndex: 1, attempt: attempt, language: "en", kind: kind,
                                       question: q, matchedHash: "5f1c0e9a2b7d4c31", matchedQuestion: m, similarity: s))
        }
        let log = DedupRejectionLog(outputDir: outputDir)
        try log.append([
            line("hand", "hand-en-0000", 1, .near, "How long should I let my young starter rest?", "How long should I let my starter rest?", 0.8571),
            line("hand", "hand-en-0001", 1, .near, hostile, "What does <b>this</b> do?", 0.93751),
            line("hand", "hand-en-0001", 1, .near, hostile, "What does <b>this</b> do?", 0.93751),
            line("hand", "hand-en-0002", 2, .semantic, "Which flour suits rye bread?", "What flour is best for rye?", 0.912),
            line("hand", "hand-en-0002", 1, .exact, "Same question", nil, 1),
            line("other", "other-en-0000", 1, .near, "Another run's question", "Another run's question!", 0.99),
        ])
    }

    @Test func theSectionShowsTheMetricsThePlotsAndThePairsEscaped() throws {
        let (f, settings) = try ReportTests.settings()
        defer { f.cleanup() }
        try Self.writeRejections(outputDir: settings.outputDir)
        let builder = try ReportBuilder(settings: settings, path: f.dir + "/report.html")
        var record = ReportTests.hostile("hand-en-0000")
        record["run_id"] = "hand"
        try builder.add(record)
        var info = ReportBuilder.RunInfo(runID: "hand", source: "test")
        info.metrics = Self.metrics
        info.metricsSource = "outputs/metrics.json"
        _ = try builder.finish(info)
        let html = try String(contentsOfFile: f.dir + "/report.html", encoding: .utf8)
        let summary = try JSONCodec.parse(Array(ReportHTML.dataBlocks(html)["dlg-summary"]!.utf8))
        let q = try #require(summary["quality"]?.stringValue)
        #expect(q.hasPrefix("<h2>Dataset quality</h2>"))
        // The table: a row per scope with its figures, and the word that metrics.json counted 3, the report 1.
        for cell in ["<td>all</td><td>3</td><td>6</td><td>21.0</td><td>0.300</td><td>0.551</td><td>0.700</td><td>81.3</td>",
                     "<td>5.0% / 12.5% / 0.0% of 40</td><td>3 of 4</td><td>0.31</td><td>n/a</td>", "<td>en</td>", "<td>fr</td>",
                     "It counts 3 dialogue(s), this report 1 completed"] {
            #expect(q.contains(cell), "no \(cell) in\n\(q)")
        }
        // The plots: distinct-2 (%) and MTLD per language, the turn scores, the retrievals per document (a.md twice).
        for key in ["distinct2", "mtld", "turn-scores", "documents"] { #expect(q.contains("data-chart=\"\(key)\"")) }
        #expect(q.contains(">61</text>") && q.contains(">42</text>") && q.contains(">90</text>") && q.contains(">56</text>"))
        #expect(q.contains(">a.md</text>") && q.contains(">b.md</text>"))
        // The pairs: this run's near and semantic ones, once each, highest similarity first; no exact, no other run's.
        let rows = q.components(separatedBy: "<tr><td>").dropFirst().filter { $0.first?.isNumber == true }
        #expect(rows.map { String($0.prefix(5)) } == ["0.938", "0.912", "0.857"], "\(rows)")
        #expect(q.contains("3 rejected;") && !q.contains("Another run") && !q.contains("Same question"))
        #expect(q.contains("<td>semantic</td>") && q.contains("<td>near</td>"))
        // Escaped: the model's markup is text, in the fragment and so in the page.
        #expect(q.contains("What does &lt;script&gt;window.pwned=1&lt;/script&gt; &amp; &quot;it&quot; do?"))
        #expect(q.contains("What does &lt;b&gt;this&lt;/b&gt; do?"))
        #expect(!q.contains("<script") && !q.contains("<b>"))
        #expect(html.components(separatedBy: "</script>").count - 1 == 6, "only the page's own script elements")
    }

    @Test func withoutMetricsOrPairsTheSectionSaysSo() throws {
        let (f, settings) = try ReportTests.settings()
        defer { f.cleanup() }
        let builder = try ReportBuilder(settings: settings, path: f.dir + "/report.html")
        try builder.add(JudgedRecords.make("hand-en-0000", scores: [8]))
        let q = builder.quality(.init(runID: "hand", source: "test")).html()
        #expect(q.contains("No <code>metrics.json</code>") && q.contains("None in the runs' rejections files"), "\(q)")
    }

    @Test func atMostFiftyPairsAreShown() throws {
        let (f, settings) = try ReportTests.settings()
        defer { f.cleanup() }
        let lines = (0..<60).map { i in
            (runID: "hand", line: DedupRejections.line(runID: "hand", conversationID: "hand-en-\(i)", turnIndex: 1, attempt: 1,
                                                      language: "en", kind: .near, question: "q\(i)", matchedHash: "h",
                                                      matchedQuestion: "m\(i)", similarity: 0.8 + Double(i) / 1000))
        }
        try DedupRejectionLog(outputDir: settings.outputDir).append(lines)
        let (pairs, total) = ReportQuality.readPairs(outputDir: settings.outputDir, runIDs: ["hand"])
        #expect(total == 60 && pairs.count == 50)
        #expect(pairs.first?["question"] == "q59" && pairs.last?["question"] == "q10")
    }

    @Test func theCardCarriesTheMetrics() throws {
        let card = DatasetCard.metricsSection(Self.metrics)
        #expect(card.hasPrefix("\n## Dataset metrics\n"))
        #expect(card.contains("| scope | dialogues | turns | words per message | distinct-1 | distinct-2 | distinct-3 | MTLD |"))
        #expect(card.contains("| all | 3 | 6 | 21.0 | 0.300 | 0.551 | 0.700 | 81.3 | 5.0% / 12.5% / 0.0% of 40 | 3 of 4 | 0.31 | n/a |"), "\(card)")
        #expect(card.contains("| en | 2 | 4 |") && card.contains("| fr | 1 | 2 |"))
        #expect(DatasetCard.metricsSection(nil).isEmpty)
        // A language code from the records cannot break the table or bring markup.
        let odd = JSON.obj(["languages": .obj(["x|<img>": Self.scope(dialogues: 1, distinct2: 0.5, mtld: 1, near: 0)])])
        #expect(DatasetCard.metricsSection(odd).contains("| x\\|&lt;img&gt; | 1 |"))
    }
}
