import Foundation

/// Helpers over a dialogue record (one JSONL line). The record carries everything a stage needs.
public enum Record {
    public static func turns(_ r: JSONObject) -> [JSON] { r["turns"]?.arrayValue ?? [] }
    public static func status(_ r: JSONObject) -> String { r["status"]?.stringValue ?? "active" }
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
        r["status"] = "dropped"
        r["drop_reason"] = .string(reason.rawValue)
        if !detail.isEmpty { r["drop_detail"] = .string(String(detail.prefix(300))) }
    }

    public static func addUsage(_ r: inout JSONObject, _ u: TokenUsage) {
        var total = TokenUsage(json: r["usage"])
        total += u
        r["usage"] = total.json
    }

    /// A new dialogue in slot `index` of `runID`, before its first question.
    public static func new(settings: Settings, personas: PersonaPool, runID: String, language: String,
                           index: Int, globalSlot: Int, seed: String) -> JSONObject {
        let id = "\(runID)-\(String(format: "%04d", index))"
        let user = PersonaPool.cyclePick(personas.users, slot: globalSlot, seed: seed + "-user")
        let assistant = PersonaPool.cyclePick(personas.assistants, slot: globalSlot, seed: seed + "-assistant")
        var rng = SeededRandom("turns-\(seed)-\(id)")
        let target = TurnCount.sample(settings.run, rng: &rng)
        var r = JSONObject()
        r["conversation_id"] = .string(id)
        r["run_id"] = .string(runID)
        r["index"] = .int(index)
        r["slot"] = .int(globalSlot)
        r["language"] = .string(language)
        r["target_turns"] = .int(target)
        r["status"] = "active"
        r["personas"] = .obj(["user": .string(user.promptText), "assistant": .string(assistant.promptText),
                              "user_id": .string(user.id), "assistant_id": .string(assistant.id)])
        r["seed"] = .obj(["topic": "", "question": .string(settings.run.seedQuestion)])
        r["turns"] = .array([])
        r["created_at"] = .string(Timestamps.isoUTC())
        return r
    }
}

/// Target turn counts per conversation, clamped to [min_turns, max_turns].
public enum TurnCount {
    public static func sample(_ run: RunSettings, rng: inout SeededRandom) -> Int {
        let lo = run.minTurns, hi = run.maxTurns
        if lo == hi { return lo }
        let mean = run.turnCountMean > 0 ? run.turnCountMean : Double(lo + hi) / 2
        var n: Int
        switch run.turnCountDistribution {
        case "uniform": n = lo + Int(rng.next() % UInt64(hi - lo + 1))
        case "exponential": n = Int((-log(1 - rng.unit()) * mean).rounded())
        case "fixed": n = Int(mean.rounded())
        default:
            if mean < 30 {
                // Knuth's algorithm.
                let l = exp(-mean)
                var k = 0
                var p = 1.0
                repeat { k += 1; p *= rng.unit() } while p > l
                n = k - 1
            } else {
                let u1 = max(rng.unit(), 1e-12), u2 = rng.unit()
                let z = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
                n = Int((mean + z * mean.squareRoot()).rounded())
            }
        }
        return min(hi, max(lo, n))
    }
}
