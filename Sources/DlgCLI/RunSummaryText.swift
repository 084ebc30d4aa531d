import DlgCore
import Foundation

/// The end of a run as a person reads it (dlg-run on a terminal; `--json` and a pipe get the one-line
/// JSON summary instead): where the dataset is, dialogues per language, turns, dropped and why, the
/// mean judge score, tokens, cost when priced (in batch mode the batch cost beside the direct one), the
/// duplicate shares, wall time, the report when there is one, and the run id.
public enum RunSummaryText {
    public static func render(summary s: JSON, totals: RunTotals, settings: Settings) -> String {
        let out = settings.outputDir
        var lines: [String] = []
        let dialogues = s["dialogues"]?.intValue ?? 0
        let perLanguage = settings.run.targetLanguages.map { "\($0) \(totals.completed[$0] ?? 0)" }.joined(separator: ", ")
        lines.append("done in \(Duration.clock(s["wall_seconds"]?.doubleValue ?? 0)): \(dialogues) dialogue(s) (\(perLanguage)), \(s["turns"]?.intValue ?? 0) turns")
        let judged = (out as NSString).appendingPathComponent("conversations_sharegpt_judged.jsonl")
        let plain = (out as NSString).appendingPathComponent("conversations_sharegpt.jsonl")
        let dataset = Files.exists(judged) && settings.judge.enabled ? judged : plain
        lines.append(row("dataset", "\(dataset) (and turns.jsonl, conversations/ beside it)"))
        let dropped = totals.dropped.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
        lines.append(row("dropped", dropped.isEmpty ? "none"
            : "\(dropped.reduce(0) { $0 + $1.value }) (" + dropped.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ")"))
        if let mean = s["mean_judge_score"]?.doubleValue {
            lines.append(row("judge", String(format: "mean score %.2f of 10 over %d verdict(s)", mean, totals.judgeScoreCount)))
        }
        let u = totals.usage
        lines.append(row("tokens", "\(Count.short(u.totalTokens)) (\(Count.short(u.promptTokens)) prompt, \(Count.short(u.completionTokens)) completion) in \(u.requests) request(s)"))
        if let cost = s["cost"], let batch = cost["batch"]?.doubleValue, let direct = cost["direct"]?.doubleValue {
            let currency = cost["currency"]?.stringValue ?? settings.pricing.currency
            lines.append(row("cost", "\(Money.format(batch, currency)) in batch mode (direct it would have been \(Money.format(direct, currency)); batch discount \(cost["batch_discount"]?.doubleValue ?? settings.pricing.batchDiscount))"))
        } else if settings.pricing.isSet {
            lines.append(row("cost", Money.format(settings.pricing.cost(totals.usageByAgent), settings.pricing.currency)))
        }
        if let shares = duplicates(s["duplicates"]) { lines.append(row("dedup", shares)) }
        let report = (out as NSString).appendingPathComponent("report.html")
        if Files.exists(report) { lines.append(row("report", report)) }
        if let id = s["run_id"]?.stringValue { lines.append(row("run id", "\(id) (resume or judge again with --run-id \(id))")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The shares of candidate questions rejected as exact, near and semantic duplicates (the summary's
    /// `duplicates`, from metrics.json); nil when the run wrote none.
    static func duplicates(_ d: JSON?) -> String? {
        guard let d, d != .null else { return nil }
        func percent(_ key: String) -> String {
            d[key]?.doubleValue.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a"
        }
        let candidates = d["candidates"]?.intValue.map { " of \($0) candidate question(s)" } ?? ""
        return "exact \(percent("exact")), near \(percent("near")), semantic \(percent("semantic"))\(candidates) rejected"
    }

    static func row(_ label: String, _ value: String) -> String {
        "  " + label.padding(toLength: 9, withPad: " ", startingAt: 0) + value
    }
}
