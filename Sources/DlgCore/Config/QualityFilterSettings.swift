import Foundation

/// `saving.filters.*` (ours; upstream has none): which completed dialogues go into the filtered
/// dataset file. Off unless one is set (or dlg-export's `--min-score` / `--exclude-reasons`), so by
/// default the output folder holds upstream's files only. What the filters mean, and how a dialogue
/// is checked against them, is `QualityFilters` (Export/QualityFilters.swift).
public struct QualityFilterSettings: Sendable, Equatable {
    /// A dialogue whose judge score is below this fails; nil: off.
    public var minJudgeScore: Double?
    /// A dialogue a judge verdict gives one of these reasons fails; empty: off.
    public var excludeReasons: [String]
    /// A dialogue of fewer turns fails; 0: off.
    public var minTurns: Int
    /// `saving.filters.near_dedup_threshold`: a dialogue with a question this near one of a dialogue
    /// kept before it fails (`NearDuplicateFilter`, checked last); 0: off.
    public var nearDedupThreshold: Double = 0

    public init(minJudgeScore: Double? = nil, excludeReasons: [String] = [], minTurns: Int = 0) {
        self.minJudgeScore = minJudgeScore
        self.excludeReasons = excludeReasons
        self.minTurns = minTurns
    }

    /// Whether any filter is set.
    public var isActive: Bool { minJudgeScore != nil || !excludeReasons.isEmpty || minTurns > 0 || nearDedupThreshold > 0 }

    /// The settings as JSON, for summaries and the report (only the filters that are set).
    public var json: JSON {
        var o = JSONObject()
        if minTurns > 0 { o["min_turns"] = .int(minTurns) }
        if let minJudgeScore { o["min_judge_score"] = .double(minJudgeScore) }
        if !excludeReasons.isEmpty { o["exclude_reasons"] = JSON(excludeReasons) }
        if nearDedupThreshold > 0 { o["near_dedup_threshold"] = .double(nearDedupThreshold) }
        return .object(o)
    }

    /// Checks the values: a score within 0-10, reasons the judge can give (`allowed`). The message
    /// starts with the filter's key, for the caller to prefix with where the value came from.
    public func problem(allowedReasons allowed: [String]) -> String? {
        if let s = minJudgeScore, !(0...10).contains(s) || !s.isFinite {
            return "min_judge_score: \(s) is not allowed; expected a number from 0 to 10"
        }
        if minTurns < 0 { return "min_turns: \(minTurns) is not allowed; expected an integer >= 0" }
        for reason in excludeReasons where !allowed.contains(reason) {
            return "exclude_reasons: \"\(reason)\" is not a judge reason; expected some of \(allowed.joined(separator: ", "))"
        }
        return nil
    }

    /// `saving.filters.*` from the config (exit 78 on a bad value).
    init(reader r: ConfigReader, allowedReasons: [String]) throws(DlgError) {
        self.init(minJudgeScore: try r.optionalDouble("saving.filters.min_judge_score"),
                  excludeReasons: try r.stringList("saving.filters.exclude_reasons"),
                  minTurns: try r.optionalInt("saving.filters.min_turns", min: 0) ?? 0)
        nearDedupThreshold = try r.double("saving.filters.near_dedup_threshold", min: 0, max: 1)
        if let problem = problem(allowedReasons: allowedReasons) {
            let key = "saving.filters." + (problem.split(separator: ":").first.map(String.init) ?? "")
            throw DlgError.config("\(r.tree.location(of: key)): saving.filters.\(problem)")
        }
    }
}
