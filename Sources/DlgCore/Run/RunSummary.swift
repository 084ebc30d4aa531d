import Foundation

/// What a finished run counts: its dialogues per language and status, turns, judge scores, tokens.
public struct RunTotals: Sendable {
    public var completed: [String: Int] = [:]
    public var dropped: [String: Int] = [:]
    public var turns = 0
    public var judgeScores: [Double] = []
    public var usage = TokenUsage()
    public var usageByAgent: [String: TokenUsage] = [:]

    /// The totals of the finished dialogues.
    static func of(_ finished: [DialogueSummary]) -> RunTotals {
        var totals = RunTotals()
        for s in finished {
            switch s.status {
            case .completed:
                totals.completed[s.language, default: 0] += 1
                totals.turns += s.turns
                totals.judgeScores += s.scores
            case .dropped:
                totals.dropped[s.dropReason.stringValue ?? "unknown", default: 0] += 1
            case .active: break
            }
            totals.usage += s.usage
            for (agent, u) in s.usageByAgent { totals.usageByAgent[agent, default: TokenUsage()] += u }
        }
        return totals
    }
}

extension RunOrchestrator {
    /// The summary printed at the end and written to the run log.
    public func summary(runID: String, totals: RunTotals) -> JSON {
        let mean: JSON = totals.judgeScores.isEmpty ? .null
            : .double((totals.judgeScores.reduce(0, +) / Double(totals.judgeScores.count) * 100).rounded() / 100)
        var completed = JSONObject()
        for (k, v) in totals.completed.sorted(by: { $0.key < $1.key }) { completed[k] = .int(v) }
        var dropped = JSONObject()
        for (k, v) in totals.dropped.sorted(by: { $0.key < $1.key }) { dropped[k] = .int(v) }
        return .obj([
            "run_id": .string(runID), "completed": .object(completed),
            "dialogues": .int(totals.completed.values.reduce(0, +)), "turns": .int(totals.turns),
            "dropped": .object(dropped), "mean_judge_score": mean, "tokens": totals.usage.json,
            "wall_seconds": .double((Date().timeIntervalSince(started) * 10).rounded() / 10),
            "output_dir": .string(settings.outputDir),
        ])
    }

    /// The run state file (`run_state/<run_id>.json`, upstream's shape): one entry per dialogue.
    static func stateEntry(_ s: DialogueSummary) -> JSON {
        .obj([
            "conversation_index": s.index, "conversation_id": .string(s.id), "language": .string(s.language),
            "target_n_turns": .int(s.targetTurns), "status": .string(s.status.rawValue), "drop_reason": s.dropReason,
            "n_turns": .int(s.turns),
        ])
    }

    func writeState(_ path: String, base: String, status: String, entries conversations: [JSON]) throws(DlgError) {
        let state = JSON.obj([
            "run_id": .string(base), "status": .string(status), "updated_at": .string(Timestamps.isoZ()),
            "n_turns": .int(settings.run.maxTurns), "batch_size": .int(settings.run.batchSize),
            "target_languages": JSON(settings.run.targetLanguages), "total_samples": .int(settings.run.totalSamples),
            "conversations": .array(conversations),
        ])
        try Files.writeAtomically(state.pretty() + "\n", to: path)
    }
}
