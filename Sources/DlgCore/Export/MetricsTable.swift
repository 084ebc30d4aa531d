import Foundation

/// `metrics.json`'s figures as a table of text, a row per scope (all the data, then each language):
/// what report.html's "Dataset quality" section and the dataset card's "Dataset metrics" show, in the
/// same words, so the two never disagree. The cells are plain text; each page escapes them its way.
enum MetricsTable {
    static let columns = [
        "scope", "dialogues", "turns", "words per message", "distinct-1", "distinct-2", "distinct-3", "MTLD",
        "duplicates rejected (exact / near / semantic)", "documents retrieved", "chunk Gini", "topic diversity",
    ]

    /// The scopes of a `metrics.json` in its order: ("all", overall), then each language.
    static func scopes(_ metrics: JSON) -> [(name: String, scope: JSON)] {
        var out: [(String, JSON)] = []
        if let overall = metrics["overall"], overall != .null { out.append(("all", overall)) }
        for (language, scope) in metrics["languages"]?.objectValue?.pairs ?? [] { out.append((language, scope)) }
        return out
    }

    static func rows(_ metrics: JSON) -> [[String]] {
        scopes(metrics).map { row(name: $0.name, $0.scope) }
    }

    static func row(name: String, _ s: JSON) -> [String] {
        let dedup = s["dedup_rejected_share"]
        let kb = s["kb_coverage"]
        let shares = ["exact", "near", "semantic"].map { percent(dedup?[$0]) }.joined(separator: " / ")
        let candidates = dedup?["candidates"]?.intValue.map { " of \($0)" } ?? ""
        var documents = percent(kb?["document_share"])
        if let retrieved = kb?["documents_retrieved"]?.intValue {
            documents = kb?["documents"]?.intValue.map { "\(retrieved) of \($0)" } ?? "\(retrieved)"
        }
        return [
            name, integer(s["dialogues"]), integer(s["turns"]), fixed(s["mean_words_per_message"]?["all"], 1),
            fixed(s["distinct_1"], 3), fixed(s["distinct_2"], 3), fixed(s["distinct_3"], 3), fixed(s["mtld"], 1),
            shares + candidates, documents, fixed(kb?["chunk_gini"], 2), fixed(s["topic_diversity"]?["value"], 3),
        ]
    }

    /// The turn judge's score histogram of a scope, "0" to "10", as chart bars.
    static func scoreBars(_ scope: JSON?) -> [(String, Int)] {
        (scope?["judge"]?["turn_score_histogram"]?.objectValue?.pairs ?? []).map { ($0.key, $0.value.intValue ?? 0) }
    }

    static func integer(_ v: JSON?) -> String { v?.intValue.map(String.init) ?? "n/a" }

    static func fixed(_ v: JSON?, _ digits: Int) -> String {
        guard let d = v?.doubleValue, d.isFinite else { return "n/a" }
        return String(format: "%.\(digits)f", d)
    }

    static func percent(_ v: JSON?) -> String {
        guard let d = v?.doubleValue, d.isFinite else { return "n/a" }
        return String(format: "%.1f%%", d * 100)
    }

    /// The table in Markdown (the dataset card): a `|`, `<` or line break in a cell (a language code
    /// comes from the records) cannot break the table or start markup.
    static func markdown(_ metrics: JSON) -> String {
        func cell(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
                .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
        }
        var out = "| " + columns.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: columns.count) + "\n"
        for r in rows(metrics) { out += "| " + r.map(cell).joined(separator: " | ") + " |\n" }
        return out
    }

    /// The table in HTML, every cell escaped.
    static func html(_ metrics: JSON) -> String {
        let esc = SVGBarChart.escape
        var out = "<table class=\"metrics\"><thead><tr>" + columns.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead><tbody>"
        for r in rows(metrics) { out += "<tr>" + r.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }
        return out + "</tbody></table>"
    }
}
