import Logging

/// The one rule for an agent call that failed for good, in every stage: a server that cannot be
/// reached leaves the record as it was (the stage exits 69 and the record is retried later); any
/// other failure drops the dialogue with the reason, keeping the tokens it spent.
enum FailedAgentCall {
    /// The record to write: `nil` means the record itself, unchanged.
    static func outcome(_ f: AgentCaller.Failure, record: JSONObject, agent: AgentName, turnIndex: Int,
                        health: StageHealth, log: Logger) -> JSONObject? {
        if f.reason == .llmUnavailable {
            health.unavailable(f.detail)
            return nil
        }
        var r = record
        Record.addUsage(&r, f.usage, agent: agent.rawValue)
        r["pending"] = nil
        Record.drop(&r, reason: f.reason, detail: "\(agent.rawValue): \(f.detail)")
        log.warning("dropped reason=\(f.reason.rawValue) \(f.detail)", metadata: [
            "dlg_conversation_id": "\(Record.id(record))", "dlg_turn_index": "\(turnIndex)"])
        return r
    }
}
