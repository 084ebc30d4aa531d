import Foundation

/// report.html's "Dataset quality" section, built here as one HTML fragment (the page's script puts it
/// in place, as it does the charts): `metrics.json`'s figures overall and per language, bars per
/// language, the judge's score histogram, the retrievals per document, and the near and semantic
/// duplicate questions dlg-dedup rejected beside the question each matched. Every text is escaped
/// with `SVGBarChart.escape`: the questions come from a model and may hold markup.
struct ReportQuality {
    /// The most rejected pairs shown (highest similarity first) and the most documents charted.
    static let pairLimit = 50
    static let documentLimit = 20

    /// `metrics.json` as read, and where from (said on the page); nil when there is none.
    var metrics: JSON?
    var metricsSource = ""
    /// The dialogues the report shows as completed, to tell when `metrics.json` counted others.
    var completed = 0
    /// Retrievals per knowledge document over the completed dialogues' `vector_db_search` results.
    var documentRetrievals: [String: Int] = [:]
    /// The near and semantic rejections of the report's runs, highest similarity first, and how many.
    var pairs: [JSON] = []
    var pairsTotal = 0

    /// `metrics.json` from `path`, nil when missing or not a JSON object.
    static func readMetrics(_ path: String) -> JSON? {
        guard Files.exists(path), let bytes = try? Files.read(path), let v = try? JSONCodec.parse(bytes),
              v.objectValue != nil else { return nil }
        return v
    }

    /// The near and semantic lines of the rejections files of `runIDs` (the records' `run_id`s), one
    /// per (conversation_id, turn_index, attempt) as docs/metrics.md says readers keep, sorted by
    /// similarity (highest first), then question; with how many there were before `limit`.
    static func readPairs(outputDir: String, runIDs: [String], limit: Int = pairLimit) -> ([JSON], Int) {
        var seen = Set<String>()
        var out: [JSON] = []
        let wanted: Set<String> = [DedupRejections.Kind.near.rawValue, DedupRejections.Kind.semantic.rawValue]
        for run in runIDs {
            guard let path = DedupRejections.path(outputDir: outputDir, runID: run), let bytes = try? Files.read(path) else { continue }
            for line in bytes.split(separator: 0x0A) {
                guard let v = try? JSONCodec.parse(Array(line)), let kind = v["kind"]?.stringValue, wanted.contains(kind) else { continue }
                let key = DedupRejections.key(v["conversation_id"]?.stringValue ?? "", v["turn_index"]?.intValue ?? 0,
                                              v["attempt"]?.intValue ?? 0)
                if seen.insert(run + "\u{0}" + key).inserted { out.append(v) }
            }
        }
        out.sort { a, b in
            let x = a["similarity"]?.doubleValue ?? 0, y = b["similarity"]?.doubleValue ?? 0
            return x != y ? x > y : (a["question"]?.stringValue ?? "") < (b["question"]?.stringValue ?? "")
        }
        return (Array(out.prefix(limit)), out.count)
    }

    func html() -> String {
        let esc = SVGBarChart.escape
        var out = "<h2>Dataset quality</h2>\n"
        if let metrics {
            out += "<p class=\"facts\">From <code>\(esc(metricsSource))</code> (definitions in docs/metrics.md).\(mismatch(metrics))</p>\n"
            out += MetricsTable.html(metrics) + "\n<div class=\"charts-row\">\n"
            let languages = metrics["languages"]?.objectValue?.pairs ?? []
            out += chart("distinct2", "Distinct-2 per language (%)", languages.map {
                ($0.key, Int((($0.value["distinct_2"]?.doubleValue ?? 0) * 100).rounded()))
            })
            out += chart("mtld", "MTLD per language", languages.map { ($0.key, Int(($0.value["mtld"]?.doubleValue ?? 0).rounded())) })
            out += chart("turn-scores", "Judge score per turn", MetricsTable.scoreBars(metrics["overall"]))
        } else {
            out += "<p class=\"facts\">No <code>\(esc(RunLayout.metricsFile))</code> beside the dataset files: "
                + "<code>dlg-export metrics --run-id ID</code> writes it.</p>\n<div class=\"charts-row\">\n"
        }
        let documents = ReportBuilder.bars(documentRetrievals)
        let shown = documents.count > Self.documentLimit ? " (top \(Self.documentLimit) of \(documents.count))" : ""
        out += chart("documents", "Retrievals per document" + shown, Array(documents.prefix(Self.documentLimit)))
        return out + "</div>\n" + pairsTable()
    }

    /// A word when `metrics.json` counted other dialogues than this report: another run's or export's.
    func mismatch(_ metrics: JSON) -> String {
        guard let counted = metrics["overall"]?["dialogues"]?.intValue, counted != completed else { return "" }
        return " It counts \(counted) dialogue(s), this report \(completed) completed: it may be another run's "
            + "or export's (<code>dlg-export metrics --run-id ID</code> writes this run's)."
    }

    func chart(_ key: String, _ title: String, _ bars: [(String, Int)]) -> String {
        "<div class=\"chart\" data-chart=\"\(key)\">" + SVGBarChart.render(title: title, bars: bars, barArea: 300) + "</div>\n"
    }

    func pairsTable() -> String {
        let esc = SVGBarChart.escape
        var out = "<h3>Near and semantic duplicate questions rejected</h3>\n"
        guard pairsTotal > 0 else {
            return out + "<p class=\"facts\">None in the runs' rejections files (run_state/&lt;run&gt;/\(esc(DedupRejections.fileName))).</p>\n"
        }
        let more = pairsTotal > pairs.count ? ", the \(pairs.count) most similar shown" : ""
        out += "<p class=\"facts\">\(pairsTotal) rejected\(more); similarity is the Jaccard of the shingle sets (near) "
            + "or the cosine of the embeddings (semantic).</p>\n<table class=\"pairs\"><thead><tr><th>similarity</th>"
            + "<th>kind</th><th>rejected question</th><th>matched question</th></tr></thead><tbody>\n"
        for p in pairs {
            let similarity = p["similarity"]?.doubleValue.map { String(format: "%.3f", $0) } ?? "n/a"
            let kind = (p["kind"]?.stringValue ?? "").replacingOccurrences(of: "_duplicate", with: "")
            let matched = p["matched_question"]?.stringValue ?? "(hash \(p["matched_question_hash"]?.stringValue ?? "?"))"
            out += "<tr><td>\(similarity)</td><td>\(esc(kind))</td><td class=\"q\">\(esc(p["question"]?.stringValue ?? ""))</td>"
                + "<td class=\"q\">\(esc(matched))</td></tr>\n"
        }
        return out + "</tbody></table>\n"
    }
}
