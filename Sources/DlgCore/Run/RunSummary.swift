import Foundation

/// What a finished run counts: its dialogues per language and status, turns, judge scores, tokens.
/// Kept as dialogues finish (`DialogueIndex`), not recomputed from every dialogue.
public struct RunTotals: Sendable {
    public var completed: [String: Int] = [:]
    public var dropped: [String: Int] = [:]
    public var turns = 0
    /// The judge's scores (every turn verdict and conversation verdict of the completed dialogues):
    /// their sum and number.
    public var judgeScoreSum = 0.0
    public var judgeScoreCount = 0
    public var usage = TokenUsage()
    public var usageByAgent: [String: TokenUsage] = [:]

    public init() {}

    /// The mean judge score, rounded to 2 decimals; nil without a verdict.
    public var meanJudgeScore: Double? {
        judgeScoreCount == 0 ? nil : (judgeScoreSum / Double(judgeScoreCount) * 100).rounded() / 100
    }

    mutating func add(_ t: DialogueTally) {
        switch t.status {
        case .completed:
            completed[t.language, default: 0] += 1
            turns += t.turns
            judgeScoreSum += t.scoreSum
            judgeScoreCount += t.scoreCount
        case .dropped:
            dropped[t.dropReason, default: 0] += 1
        case .active: break
        }
        usage += t.usage
        for (agent, u) in t.usageByAgent { usageByAgent[agent, default: TokenUsage()] += u }
    }

    /// Takes out a state `add` counted (a finished dialogue that came back).
    mutating func remove(_ t: DialogueTally) {
        func decrement(_ d: inout [String: Int], _ key: String) {
            d[key, default: 0] -= 1
            if d[key] == 0 { d[key] = nil }
        }
        switch t.status {
        case .completed:
            decrement(&completed, t.language)
            turns -= t.turns
            judgeScoreSum -= t.scoreSum
            judgeScoreCount -= t.scoreCount
        case .dropped:
            decrement(&dropped, t.dropReason)
        case .active: break
        }
        usage = usage - t.usage
        for (agent, u) in t.usageByAgent {
            let left = (usageByAgent[agent] ?? TokenUsage()) - u
            usageByAgent[agent] = left == TokenUsage() ? nil : left
        }
    }
}

extension RunOrchestrator {
    /// The summary printed at the end and written to the run log.
    public func summary(runID: String, totals: RunTotals) -> JSON {
        let mean: JSON = totals.meanJudgeScore.map(JSON.double) ?? .null
        var completed = JSONObject()
        for (k, v) in totals.completed.sorted(by: { $0.key < $1.key }) { completed[k] = .int(v) }
        var dropped = JSONObject()
        for (k, v) in totals.dropped.sorted(by: { $0.key < $1.key }) { dropped[k] = .int(v) }
        var summary: JSONObject = [
            "run_id": .string(runID), "completed": .object(completed),
            "dialogues": .int(totals.completed.values.reduce(0, +)), "turns": .int(totals.turns),
            "dropped": .object(dropped), "mean_judge_score": mean, "tokens": totals.usage.json,
            "wall_seconds": .double(wallSeconds ?? (Date().timeIntervalSince(started) * 10).rounded() / 10),
            "output_dir": .string(settings.outputDir),
            "duplicates": duplicateShares(),
        ]
        if let cost = batchCost(totals) { summary["cost"] = cost }
        return .object(summary)
    }

    /// Batch mode with prices: what the run cost through the batch API beside what it would have cost
    /// direct (`{currency, batch, direct, batch_discount}`); nil otherwise.
    func batchCost(_ totals: RunTotals) -> JSON? {
        guard settings.llmLayer.batch.enabled && settings.pricing.isSet else { return nil }
        return settings.pricing.costJSON(totals.usageByAgent)
    }

    /// What `logs/runs.jsonl` says of batch mode (`RunTimings`): nothing for a direct run; for a batch
    /// run `batch: true` and, with prices, its `cost`, so the report and the card can show both costs.
    func batchFacts(_ totals: RunTotals) -> JSONObject {
        guard settings.llmLayer.batch.enabled else { return JSONObject() }
        var facts: JSONObject = ["batch": .bool(true)]
        if let cost = batchCost(totals) { facts["cost"] = cost }
        return facts
    }

    /// The shares of candidate questions rejected as exact, near and semantic duplicates, over the
    /// whole dataset, as the run's `metrics.json` gives them (null when the run wrote none: a shard).
    func duplicateShares() -> JSON {
        guard let bytes = try? Files.read(settings.layout.metricsPath), let m = try? JSONCodec.parse(bytes),
              let d = m["overall"]?["dedup_rejected_share"] else { return .null }
        return .obj(["candidates": d["candidates"] ?? .null, "exact": d["exact"] ?? .null,
                     "near": d["near"] ?? .null, "semantic": d["semantic"] ?? .null])
    }

    /// The run state file (`run_state/<run_id>.json`, upstream's shape): the run's settings and one
    /// entry per dialogue of `positions`, streamed from the index to the file (never a JSON tree of
    /// every dialogue), through a temporary name renamed into place.
    func writeState(_ path: String, base: String, status: String, index: DialogueIndex, positions: [Int]) throws(DlgError) {
        try RunStateFile.write(path, head: [
            ("run_id", .string(base)), ("status", .string(status)), ("updated_at", .string(Timestamps.isoZ())),
            ("n_turns", .int(settings.run.maxTurns)), ("batch_size", .int(settings.run.batchSize)),
            ("target_languages", JSON(settings.run.targetLanguages)), ("total_samples", .int(settings.run.totalSamples)),
        ], entries: positions.lazy.map(index.stateEntry(at:)))
    }
}

/// Writes upstream's run state file: an object of `head`'s keys, then `"conversations"`, an array of
/// the entries, byte for byte what `JSON.pretty()` writes for the whole tree (two-space indentation),
/// one entry at a time.
enum RunStateFile {
    static func write<S: Sequence>(_ path: String, head: [(String, JSON)], entries: S) throws(DlgError) where S.Element == JSON {
        var top = JSONObject()
        for (k, v) in head { top[k] = v }
        top["conversations"] = .array([])
        // The head as pretty() writes it, up to the empty array's "]" (the last key's value).
        var bytes = JSON.object(top).prettyBytes()
        guard bytes.suffix(3) == Array("]\n}".utf8) else { throw DlgError(.software, "\(path): unexpected run state layout") }
        bytes.removeLast(3)
        let file = try AtomicFile(path)
        var first = true
        var buffer: [UInt8] = bytes
        buffer.reserveCapacity(1 << 16)
        for entry in entries {
            buffer.append(contentsOf: first ? Array("\n    ".utf8) : Array(",\n    ".utf8))
            first = false
            // An entry one level down: every newline of its pretty text gains two levels of indentation
            // (a string's newlines are escaped, so each raw newline is the layout's).
            // Masked per entry (a whole drop reason), before the buffer is cut into writes.
            for b in Redact.values(entry.prettyBytes()) {
                buffer.append(b)
                if b == 0x0A { buffer.append(contentsOf: [0x20, 0x20, 0x20, 0x20]) }
            }
            if buffer.count >= 1 << 16 {
                try file.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        buffer.append(contentsOf: Array((first ? "]\n}\n" : "\n  ]\n}\n").utf8))
        try file.write(buffer)
        try file.commit()
    }
}
