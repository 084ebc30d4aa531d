import Foundation

/// Ours (upstream has none): which completed dialogues go into `conversations_sharegpt_filtered.jsonl`.
/// Off unless one of `saving.filters.*` (or dlg-export's `--min-score` / `--exclude-reasons`) is set,
/// so by default the output folder holds upstream's files only.
///
/// The filters are checked in a fixed order and a removed dialogue is counted under the first one it
/// fails, so the counts add up to the dialogues removed:
/// 1. `min_turns`: fewer turns than this fails (0: off).
/// 2. `min_judge_score`: a score below the threshold fails; a score at the threshold passes (>=).
///    A dialogue without a judge score fails it (there is nothing to vouch for it).
/// 3. `exclude_reasons`: a judge verdict (of any turn, or of the conversation) naming one of these
///    reasons fails. A dialogue without a judge passes it, as it passes `min_turns`.
public struct QualityFilters: Sendable, Equatable {
    public var minJudgeScore: Double?
    public var excludeReasons: [String]
    public var minTurns: Int
    /// `saving.filters.near_dedup_threshold`: drop a dialogue with a question this near one kept before (0: off).
    public var nearDedupThreshold: Double = 0

    public init(minJudgeScore: Double? = nil, excludeReasons: [String] = [], minTurns: Int = 0) {
        self.minJudgeScore = minJudgeScore
        self.excludeReasons = excludeReasons
        self.minTurns = minTurns
    }

    /// The file the dialogues that pass go to, under `saving.output_dir`.
    public static let fileName = "conversations_sharegpt_filtered.jsonl"

    /// One filter, by its config key.
    public enum Filter: String, Sendable, CaseIterable {
        case minTurns = "min_turns", minJudgeScore = "min_judge_score", excludeReasons = "exclude_reasons"
        /// Checked last and by `NearDuplicateFilter` (it depends on the dialogues kept before).
        case nearDuplicate = "near_dedup_threshold"
    }

    /// Whether any filter is set.
    public var isActive: Bool { minJudgeScore != nil || !excludeReasons.isEmpty || minTurns > 0 || nearDedupThreshold > 0 }

    /// The dialogue's judge score: the mean of its turns' scores when its turns were judged, else its
    /// conversation verdict's score; nil when it has neither. (The score of the judged file's
    /// `avg_score`, and of `dataset_stats.json`.)
    public static func score(_ r: JSONObject) -> Double? {
        let scores = Record.turns(r).compactMap { t -> Double? in
            Judgement.isVerdict(t["qa_judge"]) ? t["qa_judge"]?["score"]?.doubleValue : nil
        }
        if !scores.isEmpty { return scores.reduce(0, +) / Double(scores.count) }
        let c = r["conversation_judge"]
        return Judgement.isVerdict(c) ? c?["score"]?.doubleValue : nil
    }

    /// Every reason any verdict of the dialogue names (turns, then the conversation), each once.
    public static func reasons(_ r: JSONObject) -> [String] {
        var out: [String] = []
        let verdicts = Record.turns(r).map { $0["qa_judge"] } + [r["conversation_judge"]]
        for v in verdicts where Judgement.isVerdict(v) {
            for reason in v?["reasons"]?.arrayValue ?? [] {
                if let s = reason.stringValue, !out.contains(s) { out.append(s) }
            }
        }
        return out
    }

    /// The first filter `r` fails, or nil when it passes them all.
    public func failing(_ r: JSONObject) -> Filter? {
        if minTurns > 0 && Record.turns(r).count < minTurns { return .minTurns }
        if let threshold = minJudgeScore {
            guard let s = Self.score(r), s >= threshold else { return .minJudgeScore }
        }
        if !excludeReasons.isEmpty && Self.reasons(r).contains(where: excludeReasons.contains) { return .excludeReasons }
        return nil
    }

    /// The settings as JSON, for summaries and the report (only the filters that are set).
    public var json: JSON {
        var o = JSONObject()
        if minTurns > 0 { o["min_turns"] = .int(minTurns) }
        if let minJudgeScore { o["min_judge_score"] = .double(minJudgeScore) }
        if !excludeReasons.isEmpty { o["exclude_reasons"] = JSON(excludeReasons) }
        if nearDedupThreshold > 0 { o["near_dedup_threshold"] = .double(nearDedupThreshold) }
        return .object(o)
    }

    /// Checks the values: a score within 0-10, reasons the judge can give (`allowed`). `source`
    /// names where they came from in a message (a config key prefix or the flags).
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

    /// How many dialogues passed, and how many each filter removed.
    public struct Tally: Sendable, Equatable {
        public var kept = 0
        public var removed: [Filter: Int] = [:]
        /// Whether the near-duplicate filter is set: its count is shown then (or once it removed one),
        /// so a tally without it reads as before the filter existed.
        public var includesNear = false
        public init() {}

        public mutating func count(_ verdict: Filter?) {
            if let verdict { removed[verdict, default: 0] += 1 } else { kept += 1 }
        }

        public var json: JSON {
            let shown = Filter.allCases.filter { $0 != .nearDuplicate || includesNear || removed[$0] != nil }
            return .obj(["kept": .int(kept), "removed": .object(JSONObject(shown.map { ($0.rawValue, .int(removed[$0] ?? 0)) }))])
        }
    }
}

extension QualityFilters {
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
