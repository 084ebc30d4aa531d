import Foundation

/// Helpers over a dialogue record (one JSONL line). The record carries everything a stage needs.
public enum Record {
    public static func turns(_ r: JSONObject) -> [JSON] { r["turns"]?.arrayValue ?? [] }
    public static func status(_ r: JSONObject) -> RecordStatus { r["status"]?.stringValue.flatMap(RecordStatus.init) ?? .active }
    public static func pending(_ r: JSONObject) -> JSONObject? { r["pending"]?.objectValue }
    public static func id(_ r: JSONObject) -> String { r["conversation_id"]?.stringValue ?? "" }
    public static func language(_ r: JSONObject) -> String { r["language"]?.stringValue ?? "en" }
    public static func targetTurns(_ r: JSONObject) -> Int { r["target_turns"]?.intValue ?? 1 }

    /// What a dialogue's random draws and request seeds derive from: `run.question_seed`, or the run id
    /// when it is empty (upstream then seeds from the clock; the run id is as fresh and survives a resume).
    public static func runSeed(_ r: JSONObject, questionSeed: String) -> String {
        runSeed(runID: r["run_id"]?.stringValue ?? "", questionSeed: questionSeed)
    }

    public static func runSeed(runID: String, questionSeed: String) -> String {
        questionSeed.isEmpty ? runID : questionSeed
    }

    /// What names a dialogue in its draws and request seeds beside `runSeed`: its language and slot,
    /// never its id (which holds the run id), so two runs with the same `run.question_seed` make the same
    /// requests and the second one is served by the response cache. A record without a slot: its id.
    public static func seedKey(_ r: JSONObject) -> String {
        guard let slot = r["slot"]?.intValue ?? r["index"]?.intValue else { return id(r) }
        return "\(language(r))-\(slot)"
    }

    /// `Turn N - User: ...` lines, upstream's public history format.
    public static func historyText(_ r: JSONObject, includeAnswers: Bool = true) -> String {
        let t = turns(r)
        if t.isEmpty { return "No prior turns." }
        var lines: [String] = []
        for turn in t {
            let n = turn["turn_index"]?.intValue ?? 0
            lines.append("Turn \(n) - User: \(turn["user_message"]?.stringValue ?? "")")
            if includeAnswers { lines.append("Turn \(n) - Assistant: \(turn["assistant_message"]?.stringValue ?? "")") }
        }
        return lines.joined(separator: "\n")
    }

    /// Marks a record dropped with a reason; it keeps its turns and stays in the run state.
    public static func drop(_ r: inout JSONObject, reason: DropReason, detail: String = "") {
        r["status"] = .string(RecordStatus.dropped.rawValue)
        r["drop_reason"] = .string(reason.rawValue)
        // The detail may carry a server's words (an error body that repeats the key): masked here, so
        // no drop reason holds a secret, whichever stage wrote it. Cut after masking, never mid-secret.
        if !detail.isEmpty { r["drop_detail"] = .string(String(Redact.text(detail).prefix(300))) }
    }

    /// Adds tokens an agent spent on this dialogue: to the total, and to `usage.by_agent` (what a price
    /// per agent needs).
    public static func addUsage(_ r: inout JSONObject, _ u: TokenUsage, agent: String) {
        var total = TokenUsage(json: r["usage"])
        total += u
        var byAgent = r["usage"]?["by_agent"]?.objectValue ?? JSONObject()
        byAgent[agent] = (TokenUsage(json: byAgent[agent]) + u).json
        guard case .object(var usage) = total.json else { return }
        usage["by_agent"] = .object(byAgent)
        r["usage"] = .object(usage)
    }
}
