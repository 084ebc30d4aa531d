import Foundation
import Logging

/// dlg-judge: qa_judge scores each answered turn (`judge.granularity: turn`) or each completed
/// dialogue (`conversation`). Scores are clamped to 0-10 and reasons kept to `judge.reasons`.
public final class JudgeStage: RecordStage, @unchecked Sendable {
    let settings: Settings
    let caller: AgentCaller
    let log: Logger
    /// Re-judge turns or dialogues that already have a judgement (the offline judge-only pass).
    let force: Bool
    public let health = StageHealth()
    /// The judge's reply schema, built once (its bytes are then served by `RequestParts` at once).
    let schema: JSON

    public init(settings: Settings, caller: AgentCaller, log: Logger, force: Bool) {
        self.settings = settings
        schema = AgentSchemas.judge(reasons: settings.judge.reasons)
        self.caller = caller
        self.log = log
        self.force = force
    }

    public func needsWork(_ r: JSONObject) -> Bool {
        let status = Record.status(r)
        guard status != .dropped else { return false }
        if settings.judge.granularity == .conversation {
            return status == .completed && (force || !Judgement.isVerdict(r["conversation_judge"]))
        }
        return Record.turns(r).contains { force || !Judgement.isVerdict($0["qa_judge"]) }
    }

    /// Per turn: the history, each turn's verdict and the evidence (from `qa_generation` and
    /// `kb_answer`), not the tool events; per dialogue: every turn whole once the dialogue is to be judged.
    public var turnView: TurnView {
        if settings.judge.granularity == .conversation { return TurnView(fields: [], wholeForWork: true) }
        return TurnView(fields: ["turn_index", "user_message", "assistant_message", "qa_judge", "qa_generation", "kb_answer"])
    }

    static func evidence(_ turn: JSON) -> [JSON] {
        var out: [JSON] = []
        for f in turn["qa_generation"]?["grounding_facts"]?.arrayValue ?? [] {
            out.append(.obj(["source": f["source_descriptor"] ?? "", "content": f["fact"] ?? ""]))
        }
        for e in turn["kb_answer"]?["reasoning_trace"]?["evidence"]?.arrayValue ?? [] {
            let cue = e["cue"]?.stringValue ?? ""
            out.append(.obj(["source": .string(cue.isEmpty ? (e["id"]?.stringValue ?? "") : cue), "content": e["content"] ?? ""]))
        }
        return out
    }

    static func failed(_ conversation: Bool) -> JSONObject {
        ["score": 0, "reasons": ["other"], "notes": .string(conversation ? "conversation judge parse failure" : "judge parse failure"),
         "question_ok": false, "answer_ok": false]
    }

    /// The verdict of a judge call, its usage added to the record; nil when the server was unavailable
    /// (the record is then left as it was, to be judged on a later run).
    func verdict(_ result: Result<AgentCaller.Success, AgentCaller.Failure>, conversation: Bool,
                 record r: inout JSONObject) -> JSONObject? {
        switch result {
        case .success(let s):
            Record.addUsage(&r, s.usage, agent: AgentName.qaJudge.rawValue)
            return s.output
        case .failure(let f) where f.reason == .llmUnavailable:
            health.unavailable(f.detail)
            return nil
        case .failure(let f):
            Record.addUsage(&r, f.usage, agent: AgentName.qaJudge.rawValue)
            return Self.failed(conversation)
        }
    }

    /// The completion a verdict came from, for `saving.raw_completions`; `{}` when the call failed.
    static func raw(_ result: Result<AgentCaller.Success, AgentCaller.Failure>) -> JSON {
        if case .success(let s) = result { return s.raw }
        return .obj([:])
    }

    public func process(_ record: JSONObject) async -> JSONObject {
        var r = record
        let id = Record.id(r)
        var agent = settings.agent(.qaJudge)
        let runSeed = Record.runSeed(r, questionSeed: settings.run.questionSeed)
        let reasons = settings.judge.reasons
        let userPersona = r["personas"]?["user"]?.stringValue ?? ""
        let assistantPersona = r["personas"]?["assistant"]?.stringValue ?? ""
        if settings.judge.granularity == .conversation {
            let turns = Record.turns(r)
            let compact = JSON.array(turns.map {
                .obj(["turn_index": $0["turn_index"] ?? 0, "user_message": $0["user_message"] ?? "",
                      "assistant_message": $0["assistant_message"] ?? ""])
            })
            let evidence = JSON.array(Array(turns.flatMap(Self.evidence).prefix(120)))
            let messages: [ChatMessage] = [
                .obj(["role": "system", "content": .string(Prompts.judgeSystem(conversation: true))]),
                .obj(["role": "user", "content": .string(Prompts.conversationJudgeTask(
                    turns: compact, turnCount: turns.count, userPersona: userPersona,
                    assistantPersona: assistantPersona, evidence: evidence, reasons: reasons))]),
            ]
            agent.requestSeed = RequestSeed.make(runSeed, Record.seedKey(r), "conversation", "qa_judge")
            let result = await caller.callJSON(agent: agent, messages: messages, schemaName: "conversation_judge",
                                               schema: schema, label: "conversation=\(id) judge=conversation") {
                ReplyValidation.judge($0, reasons: reasons)
            }
            guard let verdict = verdict(result, conversation: true, record: &r) else { return record }
            r["conversation_judge"] = .object(verdict)
            if settings.saving.rawCompletions { r["conversation_judge_raw"] = Self.raw(result) }
            log.info("[judge-online-conversation] score=\(verdict["score"]?.intValue ?? 0) reasons=\(verdict["reasons"]?.serialized() ?? "[]")", metadata: ["dlg_conversation_id": "\(id)"])
            return r
        }
        var turns = Record.turns(r)
        for i in turns.indices where force || !Judgement.isVerdict(turns[i]["qa_judge"]) {
            let turn = turns[i]
            var prior = r
            prior["turns"] = .array(Array(turns[..<i]))
            let messages: [ChatMessage] = [
                .obj(["role": "system", "content": .string(Prompts.judgeSystem(conversation: false))]),
                .obj(["role": "user", "content": .string(Prompts.judgeTask(
                    history: Record.historyText(prior), userPersona: userPersona, assistantPersona: assistantPersona,
                    question: turn["user_message"]?.stringValue ?? "", answer: turn["assistant_message"]?.stringValue ?? "",
                    evidence: .array(Self.evidence(turn)), reasons: reasons))]),
            ]
            let n = turn["turn_index"]?.intValue ?? i + 1
            agent.requestSeed = RequestSeed.make(runSeed, Record.seedKey(r), String(n), "qa_judge")
            let result = await caller.callJSON(agent: agent, messages: messages, schemaName: "qa_judge", schema: schema,
                                               label: "conversation=\(id) turn=\(n) judge=turn") {
                ReplyValidation.judge($0, reasons: reasons)
            }
            guard let verdict = verdict(result, conversation: false, record: &r) else { return record }
            turns[i]["qa_judge"] = .object(verdict)
            if settings.saving.rawCompletions { turns[i]["judge_raw"] = Self.raw(result) }
            log.info("[judge-online] score=\(verdict["score"]?.intValue ?? 0) reasons=\(verdict["reasons"]?.serialized() ?? "[]")",
                     metadata: ["dlg_conversation_id": "\(id)", "dlg_turn_index": "\(n)"])
        }
        r["turns"] = .array(turns)
        return r
    }
}
