import Foundation

/// The agents' prompts, written for dlgforge. They are short and put the task last: a 135M model
/// follows them, a large one loses nothing. Each system prompt names its agent (`agent: <name>`),
/// which also lets the project's mock server answer in the right shape. The JSON shape itself is
/// enforced by the schema sent as `response_format` where the server takes one.
public enum Prompts {
    public static func qaGeneratorSystem(persona: String, language: String) -> String {
        """
        You play a user talking to an assistant (agent: qa_generator). Your persona: \(persona).
        Write the user's next question, in the language "\(language)": one or two natural sentences ending with \
        a question mark, about the passages you are shown. Do not copy sentences from the passages and do not \
        mention "the passage", "the document" or "the text": the user has not seen them.
        Reply with a JSON object: user_message (the question), intent (clarify, how_to, troubleshoot, compare, \
        edge_case, example_request, decision_support or constraints), difficulty (easy, medium or hard), \
        grounding_facts (list of {fact, source_descriptor} from the passages), coverage_target (the topic_id of \
        the passage the question is about), notes_for_assistant (list of hints for a good answer).
        """
    }

    /// Passages as numbered plain text, which small models read more reliably than a JSON blob.
    public static func passages(_ snippets: [(id: String, descriptor: String, text: String)]) -> String {
        snippets.map { "[topic_id: \($0.id) | \($0.descriptor)]\n\($0.text)" }.joined(separator: "\n\n")
    }

    public static func qaGeneratorTask(history: String, lastAnswer: String, mode: String, modeHint: String,
                                       seedTopic: String, seedQuestion: String, passages: String,
                                       avoid: [String], turnIndex: Int,
                                       targetTurns: Int, language: String) -> String
    {
        var parts: [String] = []
        parts.append("Passages:\n\(passages)")
        if turnIndex > 1 {
            parts.append("Conversation so far:\n\(history)\nAssistant's last answer: \(lastAnswer)")
        }
        if !seedTopic.isEmpty { parts.append("Topic: \(seedTopic)") }
        if !seedQuestion.isEmpty { parts.append("Start from this question, in your own words: \(seedQuestion)") }
        if !avoid.isEmpty {
            parts.append("Do not ask these again, they are taken:\n" + avoid.map { "- \($0)" }.joined(separator: "\n"))
        }
        parts.append("Question \(turnIndex) of \(targetTurns) (\(mode)): \(modeHint) Write the question in \"\(language)\".")
        return parts.joined(separator: "\n\n")
    }

    public static let modeHints: [String: String] = [
        "seeded": "Open the conversation with the starting question.",
        "fresh": "Ask about something new in the passages.",
        "followup": "Follow up on the assistant's last answer: ask for a detail, a reason or an example.",
        "adjacent": "Ask about a related point of the same subject.",
        "off_topic": "Drift to a loosely related point a real user might bring up, still answerable from the passages.",
    ]

    public static func kbResponderSystem(persona: String, language: String, tools: Bool) -> String {
        let retrieval = tools
            ? "Search the knowledge base with the vector_db_search tool before answering."
            : "Answer from the passages you are given."
        return """
        You are a helpful assistant that answers from a knowledge base (agent: kb_responder). Your persona: \(persona).
        \(retrieval) Answer in the language "\(language)", in your own words. Do not repeat the question. If the \
        passages do not cover something, say so instead of guessing. Never mention file names or ids.
        Reply with a JSON object: assistant_message (your answer), reasoning_trace ({question, retrieval_queries: \
        {vector_db_search: [...], web_search: []}, evidence: [{id, cue, content}], premises: [{id, text, \
        evidence_refs}], thinking: [{text}], confidence: low|medium|high, known_limits: [...]}), did_web_search (false).
        """
    }

    public static func kbResponderTask(history: String, question: String, hints: [String], turnIndex: Int,
                                       targetTurns: Int, language: String, k: Int, passages: String?) -> String
    {
        var parts: [String] = []
        if let passages { parts.append("Passages:\n\(passages)") }
        if turnIndex > 1 { parts.append("Conversation so far:\n\(history)") }
        if !hints.isEmpty { parts.append("A good answer covers: " + hints.joined(separator: "; ")) }
        if passages == nil { parts.append("Use vector_db_search (k defaults to \(k)).") }
        parts.append("Question: \(question)")
        return parts.joined(separator: "\n\n")
    }

    public static func judgeSystem(conversation: Bool) -> String {
        let name = conversation ? "conversation_judge" : "qa_judge"
        return """
        You are a strict judge of a grounded assistant's answers (agent: \(name)).
        Score from 0 (useless or wrong) to 10 (correct, complete, supported by the evidence, well written). \
        Penalise claims the evidence does not support. Use reasons only from the allowed list, each at most once, \
        none for a flawless answer.
        Reply with a JSON object: score (integer 0-10), reasons (list), notes (one or two sentences), \
        question_ok (true or false), answer_ok (true or false).
        """
    }

    public static func judgeTask(history: String, userPersona: String, assistantPersona: String,
                                 question: String, answer: String, evidence: JSON, reasons: [String]) -> String
    {
        """
        Evidence the assistant had (JSON): \(evidence.serialized())

        Conversation before this turn:
        \(history)

        User persona: \(userPersona)
        Assistant persona: \(assistantPersona)
        Allowed reasons (JSON): \(JSON(reasons).serialized())

        Question: \(question)
        Answer: \(answer.isEmpty ? "MISSING_ASSISTANT_MESSAGE" : answer)
        """
    }

    public static func conversationJudgeTask(turns: JSON, turnCount: Int, userPersona: String,
                                             assistantPersona: String, evidence: JSON, reasons: [String]) -> String
    {
        """
        Evidence the assistant had (JSON): \(evidence.serialized())

        User persona: \(userPersona)
        Assistant persona: \(assistantPersona)
        Allowed reasons (JSON): \(JSON(reasons).serialized())

        Judge the whole conversation of \(turnCount) turns: are the questions natural, the answers correct, \
        grounded and consistent across turns?
        Turns (JSON): \(turns.serialized())
        """
    }
}
