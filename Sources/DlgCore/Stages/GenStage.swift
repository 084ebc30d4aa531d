import Foundation
import Logging

/// dlg-gen: the next user question for every open dialogue (qa_generator), with persona, question
/// mode, seed topic and knowledge snippets chosen with doc-coverage balancing. A question rejected by
/// dedup is regenerated here, up to `coverage.question_dedup_retries` times, then the dialogue is dropped.
public final class GenStage: RecordStage, @unchecked Sendable {
    let settings: Settings
    let kb: KnowledgeBase
    let caller: AgentCaller
    let log: Logger
    public let health = StageHealth()
    private let seedLock = NSLock()
    private var seedTopicsByLanguage: [String: SeedTopics?] = [:]

    public init(settings: Settings, kb: KnowledgeBase, caller: AgentCaller, log: Logger) {
        self.settings = settings
        self.kb = kb
        self.caller = caller
        self.log = log
    }

    /// Seed topics of a language, loaded once on first use.
    func seedTopics(_ language: String) -> SeedTopics? {
        seedLock.withLock {
            if let loaded = seedTopicsByLanguage[language] { return loaded }
            let topics = SeedTopics.load(settings: settings, language: language)
            seedTopicsByLanguage[language] = topics
            return topics
        }
    }

    /// How often each source grounded a question of this dialogue so far. Coverage is planned from
    /// the dialogue alone (plus its slot, which spreads neighbouring dialogues over the documents), not
    /// from what other dialogues happen to have done before it: a dialogue's prompts do not depend on
    /// timing, so dlg-run can stream dialogues through the stages and a resumed run asks the same
    /// questions as an uninterrupted one.
    static func sourceUsage(_ r: JSONObject) -> [String: Int] {
        var usage: [String: Int] = [:]
        for t in Record.turns(r) {
            if let src = t["source_path"]?.stringValue, !src.isEmpty { usage[src, default: 0] += 1 }
        }
        return usage
    }

    public func needsWork(_ r: JSONObject) -> Bool {
        guard Record.status(r) == .active else { return false }
        if let p = Record.pending(r) { return p["state"]?.stringValue == "rejected" }
        return Record.turns(r).count < Record.targetTurns(r)
    }

    /// The history of questions, the last answer and the sources and topics used so far.
    public var turnView: TurnView {
        TurnView(fields: ["turn_index", "user_message", "assistant_message", "source_path", "coverage_target"])
    }

    func seed(for r: JSONObject) -> String { Record.runSeed(r, questionSeed: settings.run.questionSeed) }

    public func process(_ record: JSONObject) async -> JSONObject {
        var r = record
        let turns = Record.turns(r)
        let turnIndex = turns.count + 1
        let id = Record.id(r)
        guard let attempt = questionAttempt(&r, turnIndex: turnIndex) else { return r }
        let seed = seed(for: r)
        var rng = SeededRandom("mode-\(seed)-\(Record.seedKey(r))-\(turnIndex)-\(attempt.number)")
        let language = Record.language(r)
        let choice = questionMode(&r, turnIndex: turnIndex, attempt: attempt, rng: &rng)
        let lastAnswer = turns.last?["assistant_message"]?.stringValue ?? ""
        let usedTopics = Set(turns.compactMap { $0["coverage_target"]?.stringValue })
        let query = choice.mode == "seeded" ? choice.seedQuestion + " " + choice.seedTopic : lastAnswer
        let snippets = selectSnippets(mode: choice.mode, query: query, usedTopics: usedTopics, usage: Self.sourceUsage(r),
                                      rotation: (r["slot"]?.intValue ?? r["index"]?.intValue ?? 0) + turnIndex, rng: &rng)
        var agent = settings.agent(.qaGenerator)
        agent.requestSeed = RequestSeed.make(seed, Record.seedKey(r), String(turnIndex), String(attempt.number), "qa_generator")
        if attempt.number > 1 {
            // A model that keeps producing the same duplicate needs more randomness, not the same draw.
            agent.temperature = min(1.5, (agent.temperature ?? 0.7) + 0.3 * Double(attempt.number - 1))
        }
        let messages = questionMessages(r, turnIndex: turnIndex, choice: choice, snippets: snippets,
                                        avoid: attempt.avoid, lastAnswer: lastAnswer)
        let texts = snippets.map { $0.text }
        let result = await caller.callJSON(agent: agent, messages: messages, schemaName: "qa_generator",
                                           schema: AgentSchemas.qaGeneration,
                                           label: "conversation=\(id) turn=\(turnIndex) attempt=\(attempt.number)") {
            ReplyValidation.question($0, snippets: texts, language: language)
        }
        switch result {
        case .success(let s):
            Record.addUsage(&r, s.usage, agent: AgentName.qaGenerator.rawValue)
            r["pending"] = .object(pendingTurn(s, turnIndex: turnIndex, attempt: attempt, choice: choice,
                                               snippets: snippets, agent: agent))
        case .failure(let f):
            return FailedAgentCall.outcome(f, record: r, agent: .qaGenerator, turnIndex: turnIndex, health: health, log: log) ?? record
        }
        return r
    }

    /// Which try at a turn's question this is, and the questions it must not repeat.
    struct QuestionAttempt {
        var number = 1
        var avoid: [String] = []
        /// A retry after a duplicate asks a fresh question, whatever the turn's draw.
        var forcedFresh = false
    }

    /// The attempt for this turn, or nil when the record was dropped (its dedup retries are spent).
    func questionAttempt(_ r: inout JSONObject, turnIndex: Int) -> QuestionAttempt? {
        guard let p = Record.pending(r), p["state"]?.stringValue == "rejected" else { return QuestionAttempt() }
        var attempt = QuestionAttempt(number: (p["attempt"]?.intValue ?? 1) + 1, forcedFresh: true)
        attempt.avoid = (p["rejected_questions"]?.arrayValue ?? []).compactMap { $0.stringValue }
        if let q = p["user_message"]?.stringValue, !attempt.avoid.contains(q) { attempt.avoid.append(q) }
        guard attempt.number > settings.coverage.questionDedupRetries + 1 else { return attempt }
        r["pending"] = nil
        Record.drop(&r, reason: .dedupExhausted, detail: "turn \(turnIndex): \(attempt.number - 1) questions were duplicates")
        log.info("dropped reason=dedup_exhausted", metadata: ["dlg_conversation_id": "\(Record.id(r))", "dlg_turn_index": "\(turnIndex)"])
        return nil
    }

    /// The kind of question a turn asks, and the seed it starts from (first turns).
    struct QuestionChoice {
        var mode: String
        var seedTopic: String
        var seedQuestion: String
    }

    /// Draws the turn's question mode. A first turn may take a seed question of the language's seed
    /// topics, which is written into the record's `seed`.
    func questionMode(_ r: inout JSONObject, turnIndex: Int, attempt: QuestionAttempt, rng: inout SeededRandom) -> QuestionChoice {
        var choice = QuestionChoice(mode: "fresh", seedTopic: r["seed"]?["topic"]?.stringValue ?? "",
                                    seedQuestion: r["seed"]?["question"]?.stringValue ?? "")
        if turnIndex == 1 {
            let slot = r["slot"]?.intValue ?? r["index"]?.intValue ?? 0
            if !choice.seedQuestion.isEmpty && attempt.number == 1 {
                choice.mode = "seeded"
            } else if attempt.number == 1, choice.seedQuestion.isEmpty, let topics = seedTopics(Record.language(r)),
                      let pick = topics.question(forSlot: slot), rng.unit() < settings.run.seedTopicsProbability {
                // Each seed question serves one dialogue of the language at most (slots count per
                // language), as upstream uses only unused ones: a reused seed gives the same question.
                choice = QuestionChoice(mode: "seeded", seedTopic: pick.topic, seedQuestion: pick.question)
                r["seed"] = .obj(["topic": .string(pick.topic), "question": .string(pick.question)])
            }
        } else if !attempt.forcedFresh {
            let u = rng.unit()
            let w = turnIndex <= 2 ? [0.70, 0.20, 0.08] : [0.45, 0.30, 0.23]
            choice.mode = u < w[0] ? "followup" : u < w[0] + w[1] ? "adjacent" : u < w[0] + w[1] + w[2] ? "fresh" : "off_topic"
        }
        return choice
    }

    /// The question generator's system and task messages.
    func questionMessages(_ r: JSONObject, turnIndex: Int, choice: QuestionChoice, snippets: [Chunk], avoid: [String],
                          lastAnswer: String) -> [ChatMessage] {
        let language = Record.language(r)
        let passages = Prompts.passages(snippets.map { ($0.id, Self.descriptor($0), $0.text) })
        let persona = r["personas"]?["user"]?.stringValue ?? ""
        return [
            .obj(["role": "system", "content": .string(Prompts.qaGeneratorSystem(persona: persona, language: language))]),
            .obj(["role": "user", "content": .string(Prompts.qaGeneratorTask(
                history: Record.historyText(r, includeAnswers: false), lastAnswer: lastAnswer.isEmpty ? "No prior assistant answer." : lastAnswer,
                mode: choice.mode, modeHint: Prompts.modeHints[choice.mode] ?? "", seedTopic: choice.seedTopic,
                seedQuestion: choice.mode == "seeded" ? choice.seedQuestion : "", passages: passages, avoid: avoid,
                turnIndex: turnIndex, targetTurns: Record.targetTurns(r), language: language))]),
        ]
    }

    /// The turn waiting for dedup: the generated question, with what it was made from.
    func pendingTurn(_ s: AgentCaller.Success, turnIndex: Int, attempt: QuestionAttempt, choice: QuestionChoice,
                     snippets: [Chunk], agent: AgentSettings) -> JSONObject {
        var qa = s.output
        let topicIDs = snippets.map { $0.id }
        if !topicIDs.contains(qa["coverage_target"]?.stringValue ?? ""), let first = topicIDs.first {
            qa["coverage_target"] = .string(first)
        }
        let target = qa["coverage_target"]?.stringValue ?? ""
        var p = JSONObject()
        p["turn_index"] = .int(turnIndex)
        p["user_message"] = qa["user_message"]
        p["state"] = "generated"
        p["attempt"] = .int(attempt.number)
        p["rejected_questions"] = JSON(attempt.avoid)
        p["question_mode"] = .string(choice.mode)
        p["seed_topic"] = .string(turnIndex == 1 ? choice.seedTopic : "")
        p["seed_question"] = .string(turnIndex == 1 ? choice.seedQuestion : "")
        p["source_path"] = .string(snippets.first { $0.id == target }?.source ?? "")
        p["qa_generation"] = .object(qa)
        p["qa_agent_used_name"] = .string(agent.usedName)
        if settings.saving.rawCompletions { p["qa_raw"] = s.raw }
        return p
    }

    static func descriptor(_ c: Chunk) -> String {
        // The file name without folder or extension, underscores as spaces (built per passage of every
        // prompt, so without Foundation's path and replace calls).
        let path = Array(c.source.utf8)
        var start = 0
        if let slash = path.lastIndex(of: 0x2F) { start = slash + 1 }
        var end = path.count
        if let dot = path[start...].lastIndex(of: 0x2E), dot != start { end = dot }
        let name = path[start..<end].map { $0 == 0x5F ? 0x20 : $0 }
        return String(decoding: name, as: UTF8.self) + " (part \(c.chunkIndex + 1))"
    }

    /// Upstream's doc-coverage policy: prefer unused sources, else the least used fraction; with
    /// probability epsilon any source. Ties rotate with the slot so a batch spreads over the documents.
    func selectSnippets(mode: String, query: String, usedTopics: Set<String>, usage sourceUsage: [String: Int],
                        rotation: Int, rng: inout SeededRandom) -> [Chunk] {
        let all = kb.sources
        var preferred = all
        if settings.coverage.docCoverageMode != "off" && rng.unit() >= settings.coverage.epsilon {
            let ratio: (String) -> Double = { s in
                Double(sourceUsage[s] ?? 0) / Double(max(1, self.kb.chunksBySource[s]?.count ?? 1))
            }
            let unused = all.filter { (sourceUsage[$0] ?? 0) == 0 }
            if !unused.isEmpty {
                preferred = unused
            } else {
                let sorted = all.sorted { ratio($0) != ratio($1) ? ratio($0) < ratio($1) : $0 < $1 }
                preferred = Array(sorted.prefix(max(1, Int((Double(all.count) * settings.coverage.fraction).rounded(.up)))))
            }
            // Rotate so that neighbouring slots (and a dialogue's successive turns) start from
            // different documents.
            let shift = rotation % preferred.count
            preferred = Array(preferred[shift...] + preferred[..<shift])
            preferred = Array(preferred.prefix(2))
        }
        let allowed = Set(preferred)
        var picked: [Chunk] = []
        if ["seeded", "followup", "adjacent"].contains(mode), !query.trimmingCharacters(in: .whitespaces).isEmpty {
            picked = kb.search(query, k: 12, allowedSources: allowed).map { $0.chunk }.filter { !usedTopics.contains($0.id) }
            if picked.isEmpty { picked = kb.search(query, k: 12).map { $0.chunk }.filter { !usedTopics.contains($0.id) } }
        }
        if picked.isEmpty {
            var pool = preferred.flatMap { kb.chunksBySource[$0] ?? [] }.filter { !usedTopics.contains(kb.chunks[$0].id) }
            if pool.isEmpty { pool = Array(kb.chunks.indices) }
            pool.shuffle(using: &rng)
            picked = pool.prefix(8).map { kb.chunks[$0] }
        }
        return Array(picked.prefix(settings.retrieval.generatorSnippets))
    }
}
