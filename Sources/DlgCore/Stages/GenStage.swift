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
        var attempt = 1
        var avoid: [String] = []
        var forcedFresh = false
        if let p = Record.pending(r), p["state"]?.stringValue == "rejected" {
            attempt = (p["attempt"]?.intValue ?? 1) + 1
            avoid = (p["rejected_questions"]?.arrayValue ?? []).compactMap { $0.stringValue }
            if let q = p["user_message"]?.stringValue, !avoid.contains(q) { avoid.append(q) }
            if attempt > settings.coverage.questionDedupRetries + 1 {
                r["pending"] = nil
                Record.drop(&r, reason: .dedupExhausted,
                            detail: "turn \(turnIndex): \(attempt - 1) questions were duplicates")
                log.info("dropped reason=dedup_exhausted", metadata: ["dlg_conversation_id": "\(id)", "dlg_turn_index": "\(turnIndex)"])
                return r
            }
            forcedFresh = true
        }
        let seed = seed(for: r)
        let slot = r["slot"]?.intValue ?? r["index"]?.intValue ?? 0
        var rng = SeededRandom("mode-\(seed)-\(Record.seedKey(r))-\(turnIndex)-\(attempt)")
        let language = Record.language(r)
        var seedQuestion = r["seed"]?["question"]?.stringValue ?? ""
        var seedTopic = r["seed"]?["topic"]?.stringValue ?? ""
        let mode: String
        if turnIndex == 1 {
            if !seedQuestion.isEmpty && attempt == 1 {
                mode = "seeded"
            } else if attempt == 1, seedQuestion.isEmpty, let topics = seedTopics(language),
                      let pick = topics.question(forSlot: slot), rng.unit() < settings.run.seedTopicsProbability {
                // Each seed question serves one dialogue of the language at most (slots count per
                // language), as upstream uses only unused ones: a reused seed gives the same question.
                seedTopic = pick.topic
                seedQuestion = pick.question
                r["seed"] = .obj(["topic": .string(seedTopic), "question": .string(seedQuestion)])
                mode = "seeded"
            } else {
                mode = "fresh"
            }
        } else if forcedFresh {
            mode = "fresh"
        } else {
            let u = rng.unit()
            let w = turnIndex <= 2 ? [0.70, 0.20, 0.08] : [0.45, 0.30, 0.23]
            mode = u < w[0] ? "followup" : u < w[0] + w[1] ? "adjacent" : u < w[0] + w[1] + w[2] ? "fresh" : "off_topic"
        }
        let lastAnswer = turns.last?["assistant_message"]?.stringValue ?? ""
        let usedTopics = Set(turns.compactMap { $0["coverage_target"]?.stringValue })
        let snippets = selectSnippets(mode: mode, query: mode == "seeded" ? seedQuestion + " " + seedTopic : lastAnswer,
                                      usedTopics: usedTopics, usage: Self.sourceUsage(r), rotation: slot + turnIndex,
                                      rng: &rng)
        let passages = Prompts.passages(snippets.map { ($0.id, Self.descriptor($0), $0.text) })
        let persona = r["personas"]?["user"]?.stringValue ?? ""
        var agent = settings.agent(.qaGenerator)
        agent.requestSeed = RequestSeed.make(seed, Record.seedKey(r), String(turnIndex), String(attempt), "qa_generator")
        if attempt > 1 {
            // A model that keeps producing the same duplicate needs more randomness, not the same draw.
            agent.temperature = min(1.5, (agent.temperature ?? 0.7) + 0.3 * Double(attempt - 1))
        }
        let messages: [ChatMessage] = [
            .obj(["role": "system", "content": .string(Prompts.qaGeneratorSystem(persona: persona, language: language))]),
            .obj(["role": "user", "content": .string(Prompts.qaGeneratorTask(
                history: Record.historyText(r, includeAnswers: false), lastAnswer: lastAnswer.isEmpty ? "No prior assistant answer." : lastAnswer,
                mode: mode, modeHint: Prompts.modeHints[mode] ?? "", seedTopic: seedTopic, seedQuestion: mode == "seeded" ? seedQuestion : "",
                passages: passages, avoid: avoid,
                turnIndex: turnIndex, targetTurns: Record.targetTurns(r), language: language))]),
        ]
        let texts = snippets.map { $0.text }
        let result = await caller.callJSON(agent: agent, messages: messages, schemaName: "qa_generator",
                                           schema: AgentSchemas.qaGeneration,
                                           label: "conversation=\(id) turn=\(turnIndex) attempt=\(attempt)") {
            ReplyValidation.question($0, snippets: texts, language: language)
        }
        switch result {
        case .success(let s):
            Record.addUsage(&r, s.usage, agent: AgentName.qaGenerator.rawValue)
            var qa = s.output
            let topicIDs = snippets.map { $0.id }
            if !topicIDs.contains(qa["coverage_target"]?.stringValue ?? ""), let first = topicIDs.first {
                qa["coverage_target"] = .string(first)
            }
            let target = qa["coverage_target"]?.stringValue ?? ""
            let source = snippets.first { $0.id == target }?.source ?? ""
            var p = JSONObject()
            p["turn_index"] = .int(turnIndex)
            p["user_message"] = qa["user_message"]
            p["state"] = "generated"
            p["attempt"] = .int(attempt)
            p["rejected_questions"] = JSON(avoid)
            p["question_mode"] = .string(mode)
            p["seed_topic"] = .string(turnIndex == 1 ? seedTopic : "")
            p["seed_question"] = .string(turnIndex == 1 ? seedQuestion : "")
            p["source_path"] = .string(source)
            p["qa_generation"] = .object(qa)
            p["qa_agent_used_name"] = .string(agent.usedName)
            if settings.saving.rawCompletions { p["qa_raw"] = s.raw }
            r["pending"] = .object(p)
        case .failure(let f):
            return FailedAgentCall.outcome(f, record: r, agent: .qaGenerator, turnIndex: turnIndex, health: health, log: log) ?? record
        }
        return r
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
