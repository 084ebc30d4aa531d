import Foundation

/// The one way a new dialogue is made, for `dlg-gen --new` and for the run alike: the same run id,
/// slot and seed give the same conversation id, personas and target turns on any machine.
public struct NewDialogues: Sendable {
    let settings: Settings
    let personas: PersonaPool

    public init(settings: Settings, personas: PersonaPool) {
        self.settings = settings
        self.personas = personas
    }

    /// The run id of a run's dialogues in one language, `<run_id>-<language>`: each language counts its
    /// slots from 0 and its conversation ids stay apart from the other languages'.
    public static func languageRun(_ run: String, language: String) -> String {
        "\(run)-\(String(language.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }))"
    }

    /// Dialogue `slot` of `language` in run `run`, before its first question: conversation id
    /// `<run>-<language>-<slot, 4 digits>`.
    public func make(run: String, language: String, slot: Int) -> JSONObject {
        let runID = Self.languageRun(run, language: language)
        let seed = Record.runSeed(runID: runID, questionSeed: settings.run.questionSeed)
        let id = "\(runID)-\(String(format: "%04d", slot))"
        let user = PersonaPool.cyclePick(personas.users, slot: slot, seed: seed + "-user")
        let assistant = PersonaPool.cyclePick(personas.assistants, slot: slot, seed: seed + "-assistant")
        var rng = SeededRandom("turns-\(seed)-\(language)-\(slot)")
        let target = TurnCount.sample(settings.run, rng: &rng)
        var r = JSONObject()
        r["conversation_id"] = .string(id)
        r["run_id"] = .string(runID)
        r["index"] = .int(slot)
        r["slot"] = .int(slot)
        r["language"] = .string(language)
        r["target_turns"] = .int(target)
        r["status"] = .string(RecordStatus.active.rawValue)
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
