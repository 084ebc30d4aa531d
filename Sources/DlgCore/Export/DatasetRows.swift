import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The rows one completed dialogue record gives each of upstream's dataset files: a pure projection
/// of the record (and the settings it was made with). `ExportSession` writes them.
public struct DatasetRows {
    let settings: Settings

    public init(settings: Settings) { self.settings = settings }

    /// One dialogue's rows.
    public struct Rows {
        /// synthetic_qa.jsonl
        public var synthetic: JSON
        /// turns.jsonl, one per turn
        public var turns: [JSON]
        /// conversations_sharegpt.jsonl
        public var sharegpt: JSON
        /// conversations_sharegpt_judged.jsonl, when the dialogue belongs there
        public var judged: JSON?
        /// conversations/<conversation_id>.json
        public var conversation: JSON
        /// conversations_index.jsonl, without `conversation_file` (where the session writes it)
        public var index: JSONObject
    }

    static let difficultyRank = ["easy": 1, "medium": 2, "hard": 3]

    func inputs(_ r: JSONObject) -> JSON {
        let s = settings
        let p = r["personas"]?.objectValue ?? JSONObject()
        var i = JSONObject()
        i["question"] = .string(r["seed"]?["question"]?.stringValue ?? s.run.seedQuestion)
        i["target_language"] = .string(Record.language(r))
        i["target_languages"] = JSON(s.run.targetLanguages)
        i["question_seed"] = .string(s.run.questionSeed)
        i["run_id"] = r["run_id"] ?? ""
        i["resume_run_id"] = .string(s.run.resumeRunID)
        i["total_samples"] = .int(s.run.totalSamples)
        i["min_turns"] = .int(s.run.minTurns)
        i["max_turns"] = .int(s.run.maxTurns)
        i["turn_count_distribution"] = .string(s.run.turnCountDistribution)
        i["turn_count_mean"] = .double(s.run.turnCountMean)
        i["seed_topics_path"] = .string(s.run.seedTopicsPath)
        i["seed_topics_variant"] = .string(s.run.seedTopicsVariant)
        i["seed_topics_probability"] = .double(s.run.seedTopicsProbability)
        i["seed_topics_enabled"] = .bool(s.run.seedTopicsEnabled)
        i["retrieval_default_k"] = .int(s.retrieval.defaultK)
        i["user_persona"] = p["user"] ?? ""
        i["assistant_persona"] = p["assistant"] ?? ""
        i["user_persona_id"] = p["user_id"] ?? ""
        i["assistant_persona_id"] = p["assistant_id"] ?? ""
        i["user_agent_used_name"] = .string(s.agent(.qaGenerator).usedName)
        i["assistant_agent_used_name"] = .string(s.agent(.kbResponder).usedName)
        i["judge_enabled"] = .bool(s.judge.online)
        i["judge_granularity"] = .string(s.judge.granularity.rawValue)
        i["judge_reasons"] = JSON(s.judge.reasons)
        i["project_root"] = .string(s.projectRoot)
        i["config_dir"] = .string(s.projectRoot)
        i["n_turns"] = .int(Record.targetTurns(r))
        i["batch_size"] = .int(s.run.batchSize)
        i["conversation_index"] = r["index"] ?? 0
        i["conversation_status"] = r["status"] ?? ""
        i["drop_reason"] = r["drop_reason"] ?? ""
        if s.judge.granularity == .conversation { i["conversation_judge"] = r["conversation_judge"] ?? .obj([:]) }
        return .object(i)
    }

    static func turnPayload(_ t: JSON) -> JSON {
        var o = JSONObject()
        for k in ["turn_index", "qa_generation", "kb_answer", "qa_judge", "qa_agent_used_name", "kb_agent_used_name",
                  "seed_topic", "seed_question", "question_mode", "tool_events", "user_message", "assistant_message"] {
            o[k] = t[k] ?? (k == "qa_judge" ? .obj([:]) : .null)
        }
        o["tool_events"] = .array((t["tool_events"]?.arrayValue ?? []).map { e in
            var e = e
            if let r = e["result"] { e["result"] = ToolCallResult.withRendered(r) }
            return e
        })
        return .object(o)
    }

    static func messages(_ turns: [JSON]) -> [JSON] {
        turns.flatMap { t -> [JSON] in
            let n = t["turn_index"] ?? 0
            return [.obj(["role": "user", "content": t["user_message"] ?? "", "turn_index": n, "agent": "qa_generator"]),
                    .obj(["role": "assistant", "content": t["assistant_message"] ?? "", "turn_index": n, "agent": "kb_responder"])]
        }
    }

    static func messagesWithTools(_ turns: [JSON]) -> [JSON] {
        var out: [JSON] = []
        for t in turns {
            out.append(.obj(["role": "user", "content": t["user_message"] ?? ""]))
            let events = t["tool_events"]?.arrayValue ?? []
            if !events.isEmpty {
                out.append(.obj([
                    "role": "assistant", "content": "",
                    "tool_calls": .array(events.map { e in
                        .obj(["id": e["id"] ?? "", "type": "function",
                              "function": .obj(["name": e["name"] ?? "", "arguments": .string((e["arguments"] ?? .obj([:])).serialized())])])
                    }),
                    "agent": "kb_responder",
                ]))
                for e in events {
                    out.append(.obj(["role": "tool", "tool_call_id": e["id"] ?? "", "name": e["name"] ?? "",
                                     "content": .string(ToolCallResult.withRendered(e["result"] ?? .obj([:])).serialized())]))
                }
            }
            out.append(.obj(["role": "assistant", "content": t["assistant_message"] ?? "", "agent": "kb_responder"]))
        }
        return out
    }

    static func history(_ turns: [JSON]) -> [JSON] {
        turns.flatMap { t -> [JSON] in
            let qa = t["qa_generation"] ?? .obj([:])
            return [.obj(["turn_index": t["turn_index"] ?? 0, "role": "user", "message": t["user_message"] ?? "",
                          "agent": "qa_generator", "intent": qa["intent"] ?? "", "difficulty": qa["difficulty"] ?? "",
                          "coverage_target": qa["coverage_target"] ?? ""]),
                    .obj(["turn_index": t["turn_index"] ?? 0, "role": "assistant", "message": t["assistant_message"] ?? "",
                          "agent": "kb_responder", "confidence": t["kb_answer"]?["reasoning_trace"]?["confidence"] ?? ""])]
        }
    }

    static func userReasoning(_ turns: [JSON]) -> [JSON] {
        turns.map { t in
            let qa = t["qa_generation"] ?? .obj([:])
            return .obj(["turn_index": t["turn_index"] ?? 0, "user_message": t["user_message"] ?? "",
                         "intent": qa["intent"] ?? "", "difficulty": qa["difficulty"] ?? "",
                         "coverage_target": qa["coverage_target"] ?? "", "grounding_facts": qa["grounding_facts"] ?? [],
                         "notes_for_assistant": qa["notes_for_assistant"] ?? [], "seed_topic": t["seed_topic"] ?? "",
                         "seed_question": t["seed_question"] ?? "", "question_mode": t["question_mode"] ?? ""])
        }
    }

    static func assistantReasoning(_ turns: [JSON]) -> [JSON] {
        turns.map { t in
            let kb = t["kb_answer"] ?? .obj([:])
            let trace = ReasoningTrace.normalize(kb["reasoning_trace"]?.objectValue ?? JSONObject(),
                                                       question: t["user_message"]?.stringValue ?? "")
            return .obj(["turn_index": t["turn_index"] ?? 0, "assistant_message": t["assistant_message"] ?? "",
                         "reasoning_trace": .object(trace), "did_web_search": kb["did_web_search"] ?? false])
        }
    }

    func personas(_ r: JSONObject) -> JSON {
        let p = r["personas"] ?? .obj([:])
        return .obj(["user": p["user"] ?? "", "assistant": p["assistant"] ?? "", "user_id": p["user_id"] ?? "",
                     "assistant_id": p["assistant_id"] ?? ""])
    }

    func metadata(_ r: JSONObject, timestamp: String) -> JSON {
        let turns = Record.turns(r)
        let diffs = turns.map { $0["qa_generation"]?["difficulty"]?.stringValue ?? "" }
        let maxDiff = diffs.max { (Self.difficultyRank[$0] ?? 0) < (Self.difficultyRank[$1] ?? 0) } ?? ""
        return .obj([
            "conversation_id": .string(Record.id(r)), "timestamp": .string(timestamp), "n_turns": .int(turns.count),
            "language": .string(Record.language(r)), "judge_granularity": .string(settings.judge.granularity.rawValue),
            "personas": personas(r), "difficulty_sequence": JSON(diffs), "difficulty_max": .string(maxDiff),
            "intent_sequence": JSON(turns.map { $0["qa_generation"]?["intent"]?.stringValue ?? "" }),
            "coverage_targets": JSON(turns.map { $0["qa_generation"]?["coverage_target"]?.stringValue ?? "" }),
            "question_modes": JSON(turns.map { $0["question_mode"]?.stringValue ?? "" }),
            "seed_topics": JSON(turns.map { $0["seed_topic"]?.stringValue ?? "" }),
            "seed_questions": JSON(turns.map { $0["seed_question"]?.stringValue ?? "" }),
        ])
    }

    func judgeColumn(_ r: JSONObject) -> JSON {
        let turns = Record.turns(r)
        var scores: [Double] = []
        let perTurn: [JSON] = turns.compactMap { t in
            guard let j = t["qa_judge"]?.objectValue, !j.isEmpty else { return nil }
            if let s = j["score"]?.doubleValue { scores.append(s) }
            return .obj(["turn_index": t["turn_index"] ?? 0, "user_message": t["user_message"] ?? "",
                         "assistant_message": t["assistant_message"] ?? "", "score": j["score"] ?? .null,
                         "reasons": j["reasons"] ?? [], "notes": j["notes"] ?? "", "question_ok": j["question_ok"] ?? .null,
                         "answer_ok": j["answer_ok"] ?? .null])
        }
        let avg: JSON = scores.isEmpty ? .null : .double((scores.reduce(0, +) / Double(scores.count) * 10000).rounded() / 10000)
        return .obj(["per_turn": .array(perTurn), "avg_score": avg, "conversation": r["conversation_judge"] ?? .obj([:])])
    }

    /// The dialogue belongs in the judged file: it has a verdict, or the run judged online (a verdict
    /// the judge could not give is then part of the data).
    func isJudged(_ r: JSONObject) -> Bool {
        settings.judge.online || Judgement.hasAnyVerdict(r)
    }

    static func turnRow(_ r: JSONObject, _ t: JSON, timestamp: String, granularity: JudgeGranularity) -> JSON {
        let qa = t["qa_generation"] ?? .obj([:])
        let kb = t["kb_answer"] ?? .obj([:])
        let j = t["qa_judge"] ?? .obj([:])
        let cj = r["conversation_judge"] ?? .obj([:])
        let trace = ReasoningTrace.normalize(kb["reasoning_trace"]?.objectValue ?? JSONObject(),
                                                   question: t["user_message"]?.stringValue ?? "")
        return .obj([
            "conversation_id": .string(Record.id(r)), "timestamp": .string(timestamp), "turn_index": t["turn_index"] ?? 0,
            "user_message": t["user_message"] ?? "", "assistant_message": t["assistant_message"] ?? "",
            "question_mode": t["question_mode"] ?? "", "seed_topic": t["seed_topic"] ?? "", "seed_question": t["seed_question"] ?? "",
            "intent": qa["intent"] ?? "", "difficulty": qa["difficulty"] ?? "", "coverage_target": qa["coverage_target"] ?? "",
            "grounding_facts": qa["grounding_facts"] ?? [], "notes_for_assistant": qa["notes_for_assistant"] ?? [],
            "reasoning_trace": .object(trace), "did_web_search": kb["did_web_search"] ?? false,
            "judge_granularity": .string(granularity.rawValue), "judge_score": j["score"] ?? .null, "judge_reasons": j["reasons"] ?? [],
            "judge_notes": j["notes"] ?? .null, "judge_question_ok": j["question_ok"] ?? .null,
            "judge_answer_ok": j["answer_ok"] ?? .null, "conversation_judge_score": cj["score"] ?? .null,
            "conversation_judge_reasons": cj["reasons"] ?? [],
        ])
    }

    /// The rows of a completed dialogue.
    public func rows(_ r: JSONObject) -> Rows {
        let cols = settings.saving.columns
        let id = Record.id(r)
        let turns = Record.turns(r)
        let timestamp = r["completed_at"]?.stringValue ?? r["created_at"]?.stringValue ?? Timestamps.isoUTC()
        let payloads = turns.map(Self.turnPayload)
        let msgs = Self.messages(turns)
        let hist = Self.history(turns)
        // Upstream's entries; the *_raw completions are kept only with `saving.raw_completions`.
        var rawEntries: [JSON] = turns.map { t in
            .obj(["turn_index": t["turn_index"] ?? 0, "attempt": t["attempt"] ?? 1,
                  "qa_raw": t["qa_raw"] ?? .obj([:]), "kb_raw": t["kb_raw"] ?? .obj([:]), "judge_raw": t["judge_raw"] ?? .obj([:]),
                  "qa_output": t["qa_generation"] ?? .obj([:]), "kb_output": t["kb_answer"] ?? .obj([:]),
                  "qa_judge": t["qa_judge"] ?? .obj([:])])
        }
        if settings.judge.enabled && settings.judge.granularity == .conversation {
            rawEntries.append(.obj(["conversation_judge_raw": r["conversation_judge_raw"] ?? .obj([:]),
                                    "conversation_judge": r["conversation_judge"] ?? .obj([:])]))
        }
        let rawResults = JSON.array(rawEntries)
        let inputs = self.inputs(r)
        let last = turns.last ?? .obj([:])
        let seedQuestion = r["seed"]?["question"] ?? ""
        let synthetic = JSON.obj([
            "conversation_id": .string(id), "timestamp": .string(timestamp), "question": seedQuestion,
            "inputs": inputs, "qa_generation_plan": last["qa_generation"] ?? .obj([:]),
            "kb_final_answer": last["kb_answer"] ?? .obj([:]), "qa_judge": last["qa_judge"] ?? .obj([:]),
            "conversation_judge": r["conversation_judge"] ?? .obj([:]), "turns": .array(payloads),
            "conversation_history": .array(hist), "messages": .array(msgs),
            "raw_result": last["kb_answer"] ?? .obj([:]), "raw_results": rawResults,
            "usage": r["usage"] ?? .obj([:]),
        ])
        let turnRows = turns.map { Self.turnRow(r, $0, timestamp: timestamp, granularity: settings.judge.granularity) }
        let shareMessages = JSON.array(turns.flatMap { t -> [JSON] in
            [.obj(["role": "user", "content": t["user_message"] ?? "", "agent": "qa_generator"]),
             .obj(["role": "assistant", "content": t["assistant_message"] ?? "", "agent": "kb_responder"])]
        })
        let withTools = JSON.array(Self.messagesWithTools(turns))
        let meta = metadata(r, timestamp: timestamp)
        let userR = JSON.array(Self.userReasoning(turns))
        let asstR = JSON.array(Self.assistantReasoning(turns))
        var row = JSONObject()
        row[cols["messages"]!] = shareMessages
        row[cols["messages_with_tools"]!] = withTools
        row[cols["metadata"]!] = meta
        row[cols["user_reasoning"]!] = userR
        row[cols["assistant_reasoning"]!] = asstR
        let sharegpt = JSON.object(row)
        var judged: JSON? = nil
        if isJudged(r) {
            row[cols["judge"]!] = judgeColumn(r)
            judged = .object(row)
        }
        let conversation = JSON.obj([
            "conversation_id": .string(id), "timestamp": .string(timestamp), "seed_question": seedQuestion,
            "inputs": inputs, "n_turns": .int(turns.count), "language": .string(Record.language(r)),
            "personas": personas(r), "messages": .array(msgs), "messages_with_tools": withTools,
            "user_reasoning": userR, "assistant_reasoning": asstR,
            "conversation_judge": r["conversation_judge"] ?? .obj([:]), "turns": .array(payloads),
            "conversation_history": .array(hist), "raw_results": rawResults,
        ])
        let index: JSONObject = ["conversation_id": .string(id), "timestamp": .string(timestamp),
                                 "n_turns": .int(turns.count), "seed_question": seedQuestion,
                                 "language": .string(Record.language(r))]
        return Rows(synthetic: synthetic, turns: turnRows, sharegpt: sharegpt, judged: judged,
                    conversation: conversation, index: index)
    }
}
