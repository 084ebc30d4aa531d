import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What dlg-run knows of a run's dialogues, from its journal: which are in the loop, how many each
/// language has completed, the next slot of each language. It decides what enters the loop next:
/// a dialogue that comes back unfinished goes round again, and a finished one makes room for a new one.
final class RunBook {
    let settings: Settings
    let base: String
    let journal: any DialogueJournal
    let dropStreakLimit: Int
    let newDialogues: NewDialogues
    /// Completed dialogues still go round for their online conversation verdict.
    let judgeConversations: Bool
    let judgeTurns: Bool
    private(set) var inFlight = 0
    private var inFlightByLanguage: [String: Int] = [:]
    private(set) var completedByLanguage: [String: Int] = [:]
    private(set) var droppedCount = 0
    private(set) var droppedByReason: [String: Int] = [:]
    /// Tokens of every dialogue's latest state, per agent (kept current as states come back).
    private(set) var usageByAgent: [String: TokenUsage] = [:]
    let started = Date()
    private var nextSlot: [String: Int] = [:]
    private var dropStreak: [String: Int] = [:]
    /// Per language, the drop reasons of its last finished dialogues since its last completed one
    /// (at most `dropStreakLimit`): what the drop-streak stop says.
    private var recentDrops: [String: [String]] = [:]
    /// Rounds of the loop per dialogue in this process; a dialogue that keeps coming back unfinished
    /// is a bug, not a reason to spend tokens forever.
    private var rounds: [String: Int] = [:]
    private let maxRounds: Int
    /// The part of the run this process does (`dlg-run --shard`); nil for all of it.
    let shard: RunShard?
    /// Dialogues to complete per language, and in flight at most: the run's, or the shard's share.
    let quota: Int
    let batchSize: Int

    /// The journal is the file at `journalPath`, or the database's rows for the run when `store` is given.
    init(settings: Settings, base: String, journalPath: String, store: PostgresStore? = nil, dropStreakLimit: Int,
         shard: RunShard? = nil, log: Logger) throws(DlgError) {
        self.settings = settings
        self.shard = shard
        quota = shard?.share(of: settings.run.totalSamples) ?? settings.run.totalSamples
        batchSize = shard?.batch(of: settings.run.batchSize) ?? settings.run.batchSize
        self.base = base
        self.dropStreakLimit = dropStreakLimit
        let (personas, warning) = PersonaPool.load(settings: settings)
        if let warning { log.warning("\(warning)") }
        newDialogues = NewDialogues(settings: settings, personas: personas)
        maxRounds = settings.run.maxTurns * (settings.coverage.questionDedupRetries + 2) + 4
        // The journal holds the unfinished dialogues as records, the others as summaries.
        let judgeConversations = settings.judge.online && settings.judge.granularity == .conversation
        let judgeTurns = settings.judge.online && settings.judge.granularity == .turn
        self.judgeConversations = judgeConversations
        self.judgeTurns = judgeTurns
        let keep: (JSONObject) -> Bool = { Self.needsLoop($0, judgeConversations: judgeConversations, judgeTurns: judgeTurns) }
        let counts: (Int) -> Bool = { shard?.owns(slot: $0) ?? true }
        if let store {
            journal = try PostgresJournal(store: store, runID: base, keep: keep, counts: counts)
        } else {
            journal = try RunJournal(path: journalPath, keep: keep, counts: counts)
        }
        // The counts from the journal's totals (its finished dialogues, counted as it was read), the
        // tokens of the unfinished ones from their records.
        let index = journal.index
        for p in 0..<index.count where counts(index.slot(at: p)) {
            let lang = index.language(at: p)
            nextSlot[lang] = max(nextSlot[lang] ?? 0, index.slot(at: p) + 1)
            // A dropped dialogue is never held (it needs no loop): the totals hold every one.
            if index.isHeld(at: p), let r = journal.held[index.id(at: p)] {
                for (agent, u) in TokenUsage.byAgent(r["usage"]) { usageByAgent[agent, default: TokenUsage()] += u }
            }
        }
        completedByLanguage = index.totals.completed
        droppedByReason = index.totals.dropped
        droppedCount = droppedByReason.values.reduce(0, +)
        for (agent, u) in index.totals.usageByAgent { usageByAgent[agent, default: TokenUsage()] += u }
    }

    /// Still has work: open, or completed but waiting for an online verdict: its conversation's, or
    /// (turn granularity) a turn's. The respond stage completes a dialogue with its last answer; when the
    /// judge then could not reach the server it passes the record on unjudged, and the run (stopping
    /// with 69) must not count it done: the resumed run judges it.
    static func needsLoop(_ r: JSONObject, judgeConversations: Bool, judgeTurns: Bool = false) -> Bool {
        switch Record.status(r) {
        case .active: return true
        case .completed:
            return (judgeConversations && !Judgement.isVerdict(r["conversation_judge"]))
                || (judgeTurns && Record.turns(r).contains { !Judgement.isVerdict($0["qa_judge"]) })
        case .dropped: return false
        }
    }

    func needsLoop(_ r: JSONObject) -> Bool { Self.needsLoop(r, judgeConversations: judgeConversations, judgeTurns: judgeTurns) }

    var isDone: Bool { inFlight == 0 }

    private func enter(_ r: JSONObject) {
        inFlight += 1
        inFlightByLanguage[Record.language(r), default: 0] += 1
    }

    /// The journal's unfinished dialogues, to go round the loop again (a resumed run).
    func resumable() -> [JSONObject] {
        let index = journal.index
        let open = (0..<index.count).compactMap { index.isHeld(at: $0) ? journal.held[index.id(at: $0)] : nil }
            .filter { shard?.owns(slot: $0["slot"]?.intValue ?? $0["index"]?.intValue ?? 0) ?? true }
        for r in open { enter(r) }
        return open
    }

    /// New dialogues while there is room in the batch: the first language still short of
    /// run.total_samples (counting the ones in flight) gets them, so languages overlap at their edge.
    func admissions() throws(DlgError) -> [JSONObject] {
        var out: [JSONObject] = []
        while inFlight < batchSize {
            guard let lang = settings.run.targetLanguages.first(where: {
                (completedByLanguage[$0] ?? 0) + (inFlightByLanguage[$0] ?? 0) < quota
            }) else { break }
            let slot = shard?.slot(atOrAfter: nextSlot[lang] ?? 0) ?? nextSlot[lang] ?? 0
            nextSlot[lang] = slot + 1
            let r = newDialogues.make(run: base, language: lang, slot: slot)
            try journal.append(r)
            enter(r)
            out.append(r)
        }
        return out
    }

    /// A dialogue came out of the loop: journal it, then say whether it goes round again and which new
    /// dialogues enter the loop.
    func receive(_ r: JSONObject, line: [UInt8]) throws(DlgError) -> (again: Bool, admitted: [JSONObject]) {
        // The state before this one: held while it was in the loop (else read back, or none).
        let id = Record.id(r)
        var previous = journal.held[id]
        if previous == nil, let p = journal.index.position(of: id) { previous = try journal.record(at: p) }
        let before = TokenUsage.byAgent(previous?["usage"])
        try journal.append(r, line: line)
        for (agent, u) in TokenUsage.byAgent(r["usage"]) {
            usageByAgent[agent, default: TokenUsage()] += u - (before[agent] ?? TokenUsage())
        }
        let lang = Record.language(r)
        inFlight -= 1
        inFlightByLanguage[lang, default: 1] -= 1
        if needsLoop(r) {
            rounds[id, default: 0] += 1
            if rounds[id]! > maxRounds {
                throw DlgError(.software, "dialogue \(id) is still unfinished after \(maxRounds) rounds of the stage loop (status \(Record.status(r)), \(Record.turns(r).count) of \(Record.targetTurns(r)) turns)")
            }
            enter(r)
            return (true, try admissions())
        }
        if Record.status(r) == .completed {
            completedByLanguage[lang, default: 0] += 1
            dropStreak[lang] = 0
            recentDrops[lang] = nil
        } else {
            let reason = r["drop_reason"]?.stringValue ?? "unknown"
            droppedCount += 1
            droppedByReason[reason, default: 0] += 1
            dropStreak[lang, default: 0] += 1
            recentDrops[lang, default: []].append(reason)
            if recentDrops[lang]!.count > dropStreakLimit { recentDrops[lang]!.removeFirst() }
            if dropStreak[lang]! >= dropStreakLimit {
                let reasons = Dictionary(grouping: recentDrops[lang] ?? [], by: { $0 })
                    .map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
                throw DlgError(.tempFail, "the last \(dropStreakLimit) dialogues of language \(lang) were all dropped (\(reasons)); stopping instead of looping. See logs/run.log and logs/llm.log; raising coverage.question_dedup_retries helps when the drops are dedup_exhausted. Run again with the same run id to go on")
            }
        }
        return (false, try admissions())
    }

    /// Positions in the journal's index of this process's dialogues, in run order (language as
    /// configured, then slot): all of them, the finished ones (not held), the completed ones.
    var ownPositions: [Int] { positions { _ in true } }
    var finishedPositions: [Int] { positions { !journal.index.isHeld(at: $0) } }
    var completedPositions: [Int] { positions { !journal.index.isHeld(at: $0) && journal.index.status(at: $0) == .completed } }

    private func positions(_ include: (Int) -> Bool) -> [Int] {
        let index = journal.index
        let own = (0..<index.count).filter { (shard?.owns(slot: index.slot(at: $0)) ?? true) && include($0) }
        return index.sorted(own, languages: settings.run.targetLanguages)
    }

    /// The totals of this process's finished dialogues.
    var totals: RunTotals { journal.index.totals }
}

extension RunBook {
    /// Where the run stands, for the observer.
    var snapshot: RunSnapshot {
        RunSnapshot(completed: settings.run.targetLanguages.map { ($0, completedByLanguage[$0] ?? 0) },
                    target: quota, dropped: droppedCount, droppedByReason: droppedByReason,
                    inFlight: inFlight, usageByAgent: usageByAgent, elapsed: Date().timeIntervalSince(started))
    }
}
