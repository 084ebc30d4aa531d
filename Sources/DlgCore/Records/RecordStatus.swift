import Foundation

/// Where a dialogue stands. Every record has one; a stage works only on the states it knows.
public enum RecordStatus: String, Sendable, CaseIterable {
    /// Still collecting turns.
    case active
    /// Has its target turns (it may still wait for a conversation verdict).
    case completed
    /// Left the run early; `drop_reason` says why.
    case dropped
}

/// What the judge scores: each turn, or each completed dialogue as a whole.
public enum JudgeGranularity: String, Sendable, CaseIterable {
    case turn
    case conversation
}

/// Judge verdicts inside a record.
public enum Judgement {
    /// A `qa_judge` or `conversation_judge` value that holds a verdict. An empty object is "not yet";
    /// `notes: disabled` is upstream's placeholder for a run without a judge.
    public static func isVerdict(_ v: JSON?) -> Bool {
        guard let o = v?.objectValue, !o.isEmpty else { return false }
        return o["notes"]?.stringValue != "disabled"
    }

    /// The dialogue carries at least one verdict: its conversation's or a turn's.
    public static func hasAnyVerdict(_ r: JSONObject) -> Bool {
        isVerdict(r["conversation_judge"]) || Record.turns(r).contains { isVerdict($0["qa_judge"]) }
    }
}
