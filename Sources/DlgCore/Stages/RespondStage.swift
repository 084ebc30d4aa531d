import Foundation
import Logging

/// dlg-respond: kb_responder answers each accepted question from the knowledge base, through the
/// `vector_db_search` tool (up to 8 rounds) and/or passages retrieved before the call, then the turn
/// is appended to the dialogue.
public final class RespondStage: RecordStage, @unchecked Sendable {
    let settings: Settings
    let kb: KnowledgeBase
    let client: LLMClient
    let log: Logger
    public let health = StageHealth()
    static let maxRounds = 8

    public init(settings: Settings, kb: KnowledgeBase, client: LLMClient, log: Logger) {
        self.settings = settings
        self.kb = kb
        self.client = client
        self.log = log
    }

    public func needsWork(_ r: JSONObject) -> Bool {
        Record.status(r) == .active && Record.pending(r)?["state"]?.stringValue == "accepted"
    }

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
        let id = Record.id(r)
        var agent = settings.agent(.kbResponder)
        agent.requestSeed = RequestSeed.make(Record.runSeed(r, questionSeed: settings.run.questionSeed), id,
                                             String(turnIndex), "kb_responder")
        let language = Record.language(r)
        let k = settings.retrieval.defaultK
        let mode = settings.retrieval.mode
        let useTools = mode == "tools" || (mode == "auto" && !client.endpointRejectsTools(agent))
        var toolEvents: [JSON] = []
        var passagesText: String? = nil
        if mode != "tools" {
            let hits = await search(question, k: k)
            let result = KnowledgeBase.toolResult(query: question, passages: hits)
            passagesText = hits.isEmpty ? "No relevant passage was found." : Prompts.passages(hits.map {
                (String($0.chunk.chunkIndex), GenStage.descriptor($0.chunk), $0.chunk.text)
            })
            toolEvents.append(.obj(["id": .string("prefetch-\(turnIndex)"), "name": "vector_db_search",
                                    "arguments": .obj(["query": .string(question), "k": .int(k)]), "result": result]))
        }
        let persona = r["personas"]?["assistant"]?.stringValue ?? ""
        let start: [ChatMessage] = [
            .obj(["role": "system", "content": .string(Prompts.kbResponderSystem(persona: persona, language: language, tools: useTools))]),
            .obj(["role": "user", "content": .string(Prompts.kbResponderTask(
                history: Record.historyText(r), question: question,
                hints: (p["qa_generation"]?["notes_for_assistant"]?.arrayValue ?? []).compactMap { $0.stringValue },
                turnIndex: turnIndex, targetTurns: Record.targetTurns(r), language: language, k: k,
                passages: passagesText))]),
        ]
        var usage = TokenUsage()
        var failure: (DropReason, String) = (.invalidOutput, "")
        var answer: JSONObject? = nil
        var answerRaw: JSON = .obj([:])
        attempts: for attempt in 1...3 {
            var messages = start
            if attempt > 1 {
                messages.append(.obj(["role": "user", "content": .string("Note: a previous reply was rejected (\(failure.0.rawValue.replacingOccurrences(of: "_", with: " "))). Answer the question itself, in the JSON shape asked for.")]))
            }
            var events: [JSON] = []
            var repaired = false
            for round in 1...Self.maxRounds {
                let reply: ChatReply
                do {
                    reply = try await client.chat(agent: agent, messages: messages,
                                                  format: .json(name: "kb_responder", schema: AgentSchemas.kbAnswer),
                                                  tools: useTools ? [Self.searchTool] : [],
                                                  label: "conversation=\(id) turn=\(turnIndex) round=\(round)")
                } catch where error.kind == .invalidReply {
                    failure = (.invalidOutput, error.message)
                    continue attempts
                } catch {
                    failure = (error.kind == .rejected ? .llmRejected : .llmUnavailable, error.message)
                    break attempts
                }
                usage += reply.usage
                if !reply.toolCalls.isEmpty {
                    messages.append(.obj(["role": "assistant", "content": .string(reply.content),
                                          "tool_calls": .array(reply.toolCalls)]))
                    for call in reply.toolCalls {
                        let callID = call["id"]?.stringValue ?? "call_\(round)"
                        let name = call["function"]?["name"]?.stringValue ?? ""
                        let argText = call["function"]?["arguments"]?.stringValue ?? "{}"
                        let args = (try? JSONCodec.parse(argText))?.objectValue ?? JSONObject()
                        let result: JSON
                        if name == "vector_db_search" {
                            let q = args["query"]?.stringValue ?? question
                            let kk = max(1, min(20, args["k"]?.intValue ?? k))
                            result = KnowledgeBase.toolResult(query: q, passages: await search(q, k: kk))
                        } else {
                            result = .obj(["error": .string("unknown tool \(name)")])
                        }
                        events.append(.obj(["id": .string(callID), "name": .string(name), "arguments": .object(args),
                                            "result": result]))
                        messages.append(.obj(["role": "tool", "tool_call_id": .string(callID), "name": .string(name),
                                              "content": .string(ToolCallResult.withRendered(result).serialized())]))
                    }
                    continue
                }
                guard let object = ReplyJSON.extract(reply.content) else {
                    if repaired { failure = (.invalidOutput, "reply is not a JSON object: " + AgentCaller.excerpt(reply.content)); continue attempts }
                    repaired = true
                    messages.append(.obj(["role": "assistant", "content": .string(String(reply.content.prefix(4000)))]))
                    messages.append(.obj(["role": "user", "content": .string(AgentCaller.repairPrompt)]))
                    continue
                }
                switch ReplyValidation.answer(object, question: question, language: language) {
                case .success(var out):
                    if object["did_web_search"] == nil { out["did_web_search"] = false }
                    toolEvents.append(contentsOf: events)
                    answer = out
                    answerRaw = reply.raw
                    break attempts
                case .failure(let reason):
                    failure = (reason, "reply failed validation (\(reason.rawValue)): " + AgentCaller.excerpt(reply.content))
                    continue attempts
                }
            }
            if answer == nil && failure.1.isEmpty { failure = (.invalidOutput, "no answer after \(Self.maxRounds) tool rounds") }
        }
        if answer == nil && failure.0 == .llmUnavailable {
            health.unavailable(failure.1)
            return record
        }
        Record.addUsage(&r, usage)
        guard let kbAnswer = answer else {
            r["pending"] = nil
            Record.drop(&r, reason: failure.0, detail: "kb_responder: \(failure.1)")
            log.warning("dropped reason=\(failure.0.rawValue) \(failure.1)", metadata: ["dlg_conversation_id": "\(id)", "dlg_turn_index": "\(turnIndex)"])
            return r
        }
        let qa = p["qa_generation"]?.objectValue ?? JSONObject()
        var turn = JSONObject()
        turn["turn_index"] = .int(turnIndex)
        turn["user_message"] = .string(question)
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
        return r
    }
}
