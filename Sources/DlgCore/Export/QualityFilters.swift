import Foundation

/// Ours (upstream has none): how the quality filters (`QualityFilterSettings`, `saving.filters.*`)
/// decide which completed dialogues go into `conversations_sharegpt_filtered.jsonl`.
///
/// The filters are checked in a fixed order and a removed dialogue is counted under the first one it
/// fails, so the counts add up to the dialogues removed:
/// 1. `min_turns`: fewer turns than this fails (0: off).
/// 2. `min_judge_score`: a score below the threshold fails; a score at the threshold passes (>=).
///    A dialogue without a judge score fails it (there is nothing to vouch for it).
/// 3. `exclude_reasons`: a judge verdict (of any turn, or of the conversation) naming one of these
///    reasons fails. A dialogue without a judge passes it, as it passes `min_turns`.
public enum QualityFilters {
    /// The file the dialogues that pass go to, under `saving.output_dir`.
    public static let fileName = RunLayout.filteredFile

    /// One filter, by its config key.
    public enum Filter: String, Sendable, CaseIterable {
        case minTurns = "min_turns", minJudgeScore = "min_judge_score", excludeReasons = "exclude_reasons"
        /// Checked last and by `NearDuplicateFilter` (it depends on the dialogues kept before).
        case nearDuplicate = "near_dedup_threshold"
    }

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

extension QualityFilterSettings {
    /// The first filter `r` fails, or nil when it passes them all.
    public func failing(_ r: JSONObject) -> QualityFilters.Filter? {
        if minTurns > 0 && Record.turns(r).count < minTurns { return .minTurns }
        if let threshold = minJudgeScore {
            guard let s = QualityFilters.score(r), s >= threshold else { return .minJudgeScore }
        }
        if !excludeReasons.isEmpty && QualityFilters.reasons(r).contains(where: excludeReasons.contains) { return .excludeReasons }
        return nil
    }
}
