import Foundation
import Logging

/// dlg-respond: kb_responder answers each accepted question from the knowledge base, through the
/// `vector_db_search` tool (up to 8 rounds) and/or passages retrieved before the call, then the turn
/// is appended to the dialogue.
public final class RespondStage: RecordStage, @unchecked Sendable {
    let settings: Settings
    let kb: KnowledgeBase
    let client: LLMClient
    let caller: AgentCaller
    let log: Logger
    public let health = StageHealth()
    static let maxRounds = 8

    public init(settings: Settings, kb: KnowledgeBase, client: LLMClient, log: Logger) {
        self.settings = settings
        self.kb = kb
        self.client = client
        caller = AgentCaller(client: client)
        self.log = log
    }

    public func needsWork(_ r: JSONObject) -> Bool {
        Record.status(r) == .active && Record.pending(r)?["state"]?.stringValue == "accepted"
    }

    /// The history (questions and answers); the new turn is appended.
    public var turnView: TurnView { TurnView(fields: ["turn_index", "user_message", "assistant_message"]) }

    static let searchTool: JSON = .obj([
        "type": "function",
        "function": .obj([
            "name": "vector_db_search",
            "description": "Search the knowledge base and return the most relevant passages.",
            "parameters": .obj([
                "type": "object",
                "properties": .obj([
                    "query": .obj(["type": "string", "description": "What to look for."]),
                    "k": .obj(["type": "integer", "minimum": 1, "description": "How many passages (default from config)."]),
                ]),
                "required": ["query"],
                "additionalProperties": false,
            ]),
        ]),
    ])

    func search(_ query: String, k: Int) async -> [Passage] {
        var vector: [Double]? = nil
        if kb.vectors != nil, let e = settings.agent(.kbResponder).endpoints.first {
            vector = try? await client.embed(endpoint: e, model: kb.embeddingModel, texts: [query]).first
        }
        return kb.search(query, k: k, queryVector: vector)
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        var r = record
        guard let p = Record.pending(r) else { return r }
        let question = p["user_message"]?.stringValue ?? ""
        let turnIndex = p["turn_index"]?.intValue ?? Record.turns(r).count + 1
        var agent = settings.agent(.kbResponder)
        agent.requestSeed = RequestSeed.make(Record.runSeed(r, questionSeed: settings.run.questionSeed), Record.seedKey(r),
                                             String(turnIndex), "kb_responder")
        let language = Record.language(r)
        let mode = settings.retrieval.mode
        let useTools = mode == "tools" || (mode == "auto" && !client.endpointRejectsTools(agent))
        var toolEvents: [JSON] = []
        var passagesText: String? = nil
        if mode != "tools" {
            let prefetched = await prefetch(question, turnIndex: turnIndex)
            passagesText = prefetched.text
            toolEvents.append(prefetched.event)
        }
        let start = answerMessages(r, pending: p, useTools: useTools, passages: passagesText)
        let result = await caller.callJSON(
            agent: agent, messages: start, schemaName: "kb_responder", schema: AgentSchemas.kbAnswer,
            label: "conversation=\(Record.id(r)) turn=\(turnIndex)", tools: answerTools(agent, question: question, useTools: useTools),
            retryInstruction: "Answer the question itself, in the JSON shape asked for.") {
            ReplyValidation.answer($0, question: question, language: language)
        }
        switch result {
        case .success(let s):
            Record.addUsage(&r, s.usage, agent: AgentName.kbResponder.rawValue)
            var kbAnswer = s.output
            WebSearch.fill(&kbAnswer, events: s.toolEvents)
            toolEvents.append(contentsOf: s.toolEvents)
            appendTurn(&r, pending: p, answer: kbAnswer, raw: s.raw, toolEvents: toolEvents, agent: agent)
            return r
        case .failure(let f):
            return FailedAgentCall.outcome(f, record: r, agent: .kbResponder, turnIndex: turnIndex, health: health, log: log) ?? record
        }
    }

    /// Passages retrieved for the question before the call: as the prompt shows them, and as a tool event.
    func prefetch(_ question: String, turnIndex: Int) async -> (text: String, event: JSON) {
        let k = settings.retrieval.defaultK
        let hits = await search(question, k: k)
        let text = hits.isEmpty ? "No relevant passage was found." : Prompts.passages(hits.map {
            (String($0.chunk.chunkIndex), GenStage.descriptor($0.chunk), $0.chunk.text)
        })
        let event: JSON = .obj(["id": .string("prefetch-\(turnIndex)"), "name": "vector_db_search",
                                "arguments": .obj(["query": .string(question), "k": .int(k)]),
                                "result": KnowledgeBase.toolResult(query: question, passages: hits)])
        return (text, event)
    }

    /// The responder's system and task messages for the pending turn.
    func answerMessages(_ r: JSONObject, pending p: JSONObject, useTools: Bool, passages: String?) -> [ChatMessage] {
        let language = Record.language(r)
        let persona = r["personas"]?["assistant"]?.stringValue ?? ""
        return [
            .obj(["role": "system", "content": .string(Prompts.kbResponderSystem(persona: persona, language: language, tools: useTools))]),
            .obj(["role": "user", "content": .string(Prompts.kbResponderTask(
                history: Record.historyText(r), question: p["user_message"]?.stringValue ?? "",
                hints: (p["qa_generation"]?["notes_for_assistant"]?.arrayValue ?? []).compactMap { $0.stringValue },
                turnIndex: p["turn_index"]?.intValue ?? Record.turns(r).count + 1, targetTurns: Record.targetTurns(r),
                language: language, k: settings.retrieval.defaultK, passages: passages))]),
        ]
    }

    /// The tools the responder may call: the knowledge-base search (tools mode) and the web search
    /// (when configured and the endpoint takes tools).
    func answerTools(_ agent: AgentSettings, question: String, useTools: Bool) -> AgentTools {
        let k = settings.retrieval.defaultK
        let web = settings.webSearch.usable ? WebSearch(settings: settings.webSearch) : nil
        var definitions = useTools ? [Self.searchTool] : []
        if web != nil && !client.endpointRejectsTools(agent) { definitions.append(WebSearch.tool) }
        return AgentTools(definitions: definitions, maxRounds: Self.maxRounds, handle: { [self] name, args in
            if name == WebSearch.name, let web { return await web.search(args["query"]?.stringValue ?? question) }
            guard name == "vector_db_search" else { return .obj(["error": .string("unknown tool \(name)")]) }
            let q = args["query"]?.stringValue ?? question
            let kk = max(1, min(20, args["k"]?.intValue ?? k))
            return KnowledgeBase.toolResult(query: q, passages: await search(q, k: kk))
        }, render: { ToolCallResult.withRendered($0).serialized() })
    }

    /// Appends the answered turn to the dialogue, which is complete when it has its target turns.
    func appendTurn(_ r: inout JSONObject, pending p: JSONObject, answer kbAnswer: JSONObject, raw answerRaw: JSON,
                    toolEvents: [JSON], agent: AgentSettings) {
        let qa = p["qa_generation"]?.objectValue ?? JSONObject()
        var turn = JSONObject()
        turn["turn_index"] = .int(p["turn_index"]?.intValue ?? Record.turns(r).count + 1)
        turn["user_message"] = .string(p["user_message"]?.stringValue ?? "")
        turn["assistant_message"] = kbAnswer["assistant_message"]
        turn["qa_generation"] = .object(qa)
        turn["kb_answer"] = .object(kbAnswer)
        turn["qa_judge"] = .object(JSONObject())
        turn["qa_agent_used_name"] = p["qa_agent_used_name"] ?? ""
        turn["kb_agent_used_name"] = .string(agent.usedName)
        turn["seed_topic"] = p["seed_topic"] ?? ""
        turn["seed_question"] = p["seed_question"] ?? ""
        turn["question_mode"] = p["question_mode"] ?? ""
        turn["coverage_target"] = qa["coverage_target"] ?? ""
        turn["source_path"] = p["source_path"] ?? ""
        turn["attempt"] = p["attempt"] ?? 1
        turn["tool_events"] = .array(toolEvents)
        if settings.saving.rawCompletions {
            turn["qa_raw"] = p["qa_raw"] ?? .obj([:])
            turn["kb_raw"] = answerRaw
        }
        turn["timestamp"] = .string(Timestamps.isoUTC())
        var turns = Record.turns(r)
        turns.append(.object(turn))
        r["turns"] = .array(turns)
        r["pending"] = nil
        if turns.count >= Record.targetTurns(r) {
            r["status"] = .string(RecordStatus.completed.rawValue)
            r["completed_at"] = .string(Timestamps.isoUTC())
        }
    }
}
