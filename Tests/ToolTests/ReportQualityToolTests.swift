// The dataset's figures where people look: a run with near dedup on against a mock that sends
// near-duplicates, then report.html's "Dataset quality" section (the metrics, the plots, the rejected
// pairs with their similarity, a hostile question escaped, in headless Chromium too) and the dataset
// card's "Dataset metrics".

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("report.html and the card show the dataset metrics") struct ReportQualityToolTests {
    /// The `quality` fragment of report.html's summary block.
    static func quality(_ work: WorkDir) throws -> String {
        let blocks = ReportHTML.dataBlocks(try work.read("outputs/report.html"))
        let summary = try JSONCodec.parse(Array((blocks["dlg-summary"] ?? "").utf8))
        return try #require(summary["quality"]?.stringValue, "no quality section in report.html")
    }

    @Test(.timeLimit(.minutes(10)))
    func aNearDedupRunsReportAndCardShowTheMetricsAndThePairs() async throws {
        let work = try WorkDir(label: "report-quality")
        defer { work.cleanup() }
        try NearDedupRunTests.configure(work)
        let runID = "quality"
        try await withMock(NearDedupRunTests.mockOptions) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: runID)
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 8, "fr": 8])
        }
        let metrics = try JSONCodec.parse(Array(try work.read("outputs/metrics.json").utf8))
        let q = try Self.quality(work)
        // The table's overall row holds metrics.json's own figures, and the per-language plots are drawn.
        let overall = try #require(metrics["overall"])
        let row = "<td>all</td><td>\(overall["dialogues"]?.intValue ?? -1)</td><td>\(overall["turns"]?.intValue ?? -1)</td>"
        #expect(q.contains(row), "no \(row) in\n\(q.prefix(2000))")
        #expect(q.contains(String(format: "<td>%.3f</td>", overall["distinct_2"]?.doubleValue ?? -1)))
        #expect(q.contains(String(format: "<td>%.1f</td>", overall["mtld"]?.doubleValue ?? -1)))
        #expect(q.contains("<td>en</td>") && q.contains("<td>fr</td>") && !q.contains("It counts"))
        for key in ["distinct2", "mtld", "turn-scores", "documents"] { #expect(q.contains("data-chart=\"\(key)\""), "\(key)") }
        #expect(!q.contains("No data to plot"), "a chart is empty:\n\(q.prefix(3000))")
        // The pairs: every near rejection of the run's rejections files, with its similarity, most similar first.
        let near = try NearDedupRunTests.rejections([work], runID: runID).filter { $0["kind"]?.stringValue == "near_duplicate" }
        try #require(near.count >= 3, "only \(near.count) near rejections")
        let best = try #require(near.max { ($0["similarity"]?.doubleValue ?? 0) < ($1["similarity"]?.doubleValue ?? 0) })
        let firstRow = try #require(q.components(separatedBy: "<table class=\"pairs\">").last?.components(separatedBy: "<tr><td>").dropFirst().first)
        #expect(firstRow.hasPrefix(String(format: "%.3f</td><td>near</td>", best["similarity"]?.doubleValue ?? -1)), "\(firstRow)")
        for line in near.prefix(10) {
            let question = SVGBarChartEscape.escape(line["question"]?.stringValue ?? "")
            #expect(q.contains("<td class=\"q\">\(question)</td>"), "no pair for \(question)")
        }

        // A question holding markup (written into the rejections file as a model could have sent it) is text.
        let hostile = "Why <script>document.title='pwned'</script> <img src=x onerror=alert(1)>?"
        let line = DedupRejections.line(runID: runID + "-en", conversationID: "\(runID)-en-0000", turnIndex: 9, attempt: 1,
                                        language: "en", kind: .near, question: hostile, matchedHash: "h",
                                        matchedQuestion: "Why?", similarity: 0.999)
        try DedupRejectionLog(outputDir: work.file("outputs").path).append([(runID: runID + "-en", line: line)])
        let report = try await stage("dlg-export", work, nil, ["--report", "--run-id", runID])
        try #require(report.status == 0, "\(report)")
        let escaped = try Self.quality(work)
        #expect(escaped.contains("&lt;script&gt;document.title='pwned'&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt;"))
        #expect(!escaped.contains("<script") && !escaped.contains("<img"))
        if Chromium.binary != nil {
            let dom = try await Chromium.load(work.file("outputs/report.html").absoluteString, "--dump-dom", work: work)
            #expect(Chromium.scriptErrors(dom).isEmpty, "\(Chromium.scriptErrors(dom))")
            #expect(dom.stdout.contains("<section id=\"quality\" class=\"quality\" aria-label=\"Dataset quality\"><h2>Dataset quality</h2>"))
            #expect(dom.stdout.contains("&lt;script&gt;document.title='pwned'") && !dom.stdout.contains("<title>pwned"))
            #expect(!dom.stdout.contains("<img src=\"x\""), "the hostile question became an element")
        }

        // The card: the same table, overall and per language.
        let hub = try await stage("dlg-export", work, nil, ["--hub"])
        try #require(hub.status == 0, "\(hub)")
        let card = try work.read("outputs/hf_export/README.md")
        #expect(card.contains("## Dataset metrics"), "\(card)")
        let cardRow = "| all | \(overall["dialogues"]?.intValue ?? -1) | \(overall["turns"]?.intValue ?? -1) | "
        #expect(card.contains(cardRow) && card.contains("| en | 8 |") && card.contains("| fr | 8 |"), "\(card)")
        #expect(card.contains(String(format: " %.3f | ", overall["distinct_2"]?.doubleValue ?? -1)), "\(card)")
    }
}


/// The escaping the report uses (`SVGBarChart.escape`, internal to DlgCore), restated.
enum SVGBarChartEscape {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
