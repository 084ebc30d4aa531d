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
        if let store {
            journal = try PostgresJournal(store: store, runID: base, keep: keep)
        } else {
            journal = try RunJournal(path: journalPath, keep: keep)
        }
        for s in journal.allSummaries where shard?.owns(slot: s.slot) ?? true {
            nextSlot[s.language] = max(nextSlot[s.language] ?? 0, s.slot + 1)
            if s.status == .completed && journal.held[s.id] == nil { completedByLanguage[s.language, default: 0] += 1 }
            if s.status == .dropped {
                droppedCount += 1
                droppedByReason[s.dropReason.stringValue ?? "unknown", default: 0] += 1
            }
            for (agent, u) in s.usageByAgent { usageByAgent[agent, default: TokenUsage()] += u }
        }
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
        let open = journal.order.compactMap { journal.held[$0] }.filter { shard?.owns(slot: $0["slot"]?.intValue ?? $0["index"]?.intValue ?? 0) ?? true }
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
        let before = journal.summaries[Record.id(r)]?.usageByAgent ?? [:]
        try journal.append(r, line: line)
        for (agent, u) in TokenUsage.byAgent(r["usage"]) {
            usageByAgent[agent, default: TokenUsage()] += u - (before[agent] ?? TokenUsage())
        }
        let lang = Record.language(r)
        inFlight -= 1
        inFlightByLanguage[lang, default: 1] -= 1
        if needsLoop(r) {
            let id = Record.id(r)
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
        } else {
            droppedCount += 1
            droppedByReason[r["drop_reason"]?.stringValue ?? "unknown", default: 0] += 1
            dropStreak[lang, default: 0] += 1
            if dropStreak[lang]! >= dropStreakLimit {
                let recent = finishedSummaries.filter { $0.language == lang }.suffix(dropStreakLimit)
                let reasons = Dictionary(grouping: recent, by: { $0.dropReason.stringValue ?? "unknown" })
                    .map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", ")
                throw DlgError(.tempFail, "the last \(dropStreakLimit) dialogues of language \(lang) were all dropped (\(reasons)); stopping instead of looping. See logs/run.log and logs/llm.log; raising coverage.question_dedup_retries helps when the drops are dedup_exhausted. Run again with the same run id to go on")
            }
        }
        return (false, try admissions())
    }

    /// Dialogues in run order: by language as configured, then slot.
    static func sorted(_ summaries: [DialogueSummary], settings: Settings) -> [DialogueSummary] {
        let rank = Dictionary(settings.run.targetLanguages.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return summaries.sorted {
            let (a, b) = (rank[$0.language] ?? Int.max, rank[$1.language] ?? Int.max)
            return a != b ? a < b : $0.slot < $1.slot
        }
    }

    /// The dialogues of this process's part of the run.
    var ownSummaries: [DialogueSummary] { journal.allSummaries.filter { shard?.owns(slot: $0.slot) ?? true } }
    var allSummaries: [DialogueSummary] { Self.sorted(ownSummaries, settings: settings) }
    var finishedSummaries: [DialogueSummary] {
        Self.sorted(ownSummaries.filter { journal.held[$0.id] == nil }, settings: settings)
    }
    var completedSummaries: [DialogueSummary] { finishedSummaries.filter { $0.status == .completed } }
}

extension RunBook {
    /// Where the run stands, for the observer.
    var snapshot: RunSnapshot {
        RunSnapshot(completed: settings.run.targetLanguages.map { ($0, completedByLanguage[$0] ?? 0) },
                    target: quota, dropped: droppedCount, droppedByReason: droppedByReason,
                    inFlight: inFlight, usageByAgent: usageByAgent, elapsed: Date().timeIntervalSince(started))
    }
}
