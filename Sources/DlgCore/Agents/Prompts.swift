import Foundation

/// The agents' prompts, written for dlgforge. Each system prompt names its agent
/// (`agent: <name>`), which also lets the project's mock server answer in the right shape.
public enum Prompts {
    public static func qaGeneratorSystem(persona: String, language: String) -> String {
        """
        You simulate a real person talking to a knowledgeable assistant (agent: qa_generator).
        Stay in character as this user: \(persona).
        You write the user's next message only. It must be a natural, self-contained question or request that \
        someone with this persona would actually ask, answerable from the reference passages you are given, \
        written in the language "\(language)". Never mention "the document", "the passage", "the text" or \
        "the knowledge base": the user has not seen them. Do not copy sentences from the passages; ask about them.
        Reply with one JSON object and nothing else.
        """
    }

    public static func qaGeneratorTask(history: String, lastAnswer: String, mode: String, modeHint: String,
                                       seedTopic: String, seedQuestion: String, snippets: JSON,
                                       recentQuestions: [String], avoid: [String], turnIndex: Int,
                                       targetTurns: Int, language: String) -> String
    {
        var parts: [String] = []
        parts.append("Conversation so far:\n\(history)")
        parts.append("Assistant's last answer:\n\(lastAnswer)")
        parts.append("This is user turn \(turnIndex) of \(targetTurns). Question mode: \(mode). \(modeHint)")
        if !seedTopic.isEmpty { parts.append("Seed topic: \(seedTopic)") }
        if !seedQuestion.isEmpty { parts.append("Seed question to start from (rephrase it naturally): \(seedQuestion)") }
        parts.append("Reference passages (JSON):\n\(snippets.serialized())")
        if !recentQuestions.isEmpty {
            parts.append("Questions already asked in this dataset (ask something different):\n\(JSON(recentQuestions).serialized())")
        }
        if !avoid.isEmpty {
            parts.append("These questions were rejected as duplicates; ask about a different aspect:\n\(JSON(avoid).serialized())")
        }
        parts.append("""
        Write the user's next message in the language "\(language)". Reply with one JSON object with these fields:
        user_message (the question itself, one or two sentences, ending with a question mark), intent (one of \
        clarify, how_to, troubleshoot, compare, edge_case, example_request, decision_support, constraints), \
        difficulty (easy, medium or hard), grounding_facts (facts from the passages that a good answer needs, each \
        with the passage's source_descriptor), coverage_target (the topic_id of the passage the question is about), \
        notes_for_assistant (what a good answer should cover).
        """)
        return parts.joined(separator: "\n\n")
    }

    public static let modeHints: [String: String] = [
        "seeded": "Open the conversation from the seed question.",
        "fresh": "Open a new line of inquiry grounded in one of the passages.",
        "followup": "Follow up directly on the assistant's last answer: dig deeper, ask for a detail or an example.",
        "adjacent": "Move to a related aspect of the same subject.",
        "off_topic": "Ask something loosely related that a real user might drift to; keep it answerable from the passages.",
    ]

    public static func kbResponderSystem(persona: String, language: String, tools: Bool) -> String {
        let retrieval = tools
            ? "Use the vector_db_search tool to find passages before you answer; search again if the first results do not cover the question."
            : "Passages retrieved from the knowledge base are given with the question; answer from them."
        return """
        You are a careful assistant that answers from a knowledge base (agent: kb_responder).
        Assistant persona: \(persona).
        \(retrieval) Answer in the language "\(language)". Ground every claim in the retrieved passages; \
        when they do not cover something, say so plainly instead of guessing. Never show file paths, chunk ids or \
        tool names in the answer.
        Reply with one JSON object and nothing else.
        """
    }

    public static func kbResponderTask(history: String, question: String, qaOutput: JSON, turnIndex: Int,
                                       targetTurns: Int, language: String, k: Int, passages: String?) -> String
    {
        var parts = ["Conversation so far:\n\(history)",
                     "Turn \(turnIndex) of \(targetTurns). The user asks:\n\(question)"]
        if let passages { parts.append("Retrieved passages:\n\(passages)") }
        else { parts.append("Search the knowledge base with vector_db_search (k defaults to \(k)).") }
        parts.append("""
        Reply with one JSON object: assistant_message (your answer to the user, in "\(language)", a few sentences), \
        reasoning_trace (question; retrieval_queries with vector_db_search and web_search lists; evidence: items \
        {id, cue, content} quoting the passages you used; premises: {id, text, evidence_refs}; thinking: {text} \
        steps; confidence: low, medium or high; known_limits: what the passages do not say), did_web_search (false).
        """)
        parts.append("Previous task output (user JSON):\n\(qaOutput.serialized())")
        return parts.joined(separator: "\n\n")
    }

    public static func judgeSystem(conversation: Bool) -> String {
        let name = conversation ? "conversation_judge" : "qa_judge"
        return """
        You are a strict evaluator of question-answer quality for a grounded assistant (agent: \(name)).
        Score from 0 (useless or wrong) to 10 (correct, complete, grounded in the evidence, well written). \
        Penalise claims the evidence does not support. Use reasons only from the allowed list, each at most once; \
        give no reasons for a flawless answer.
        Reply with one JSON object and nothing else.
        """
    }

    public static func judgeTask(history: String, userPersona: String, assistantPersona: String,
                                 question: String, answer: String, evidence: JSON, reasons: [String]) -> String
    {
        """
        Conversation so far:
        \(history)

        User persona: \(userPersona)
        Assistant persona: \(assistantPersona)

        Question to judge:
        \(question)

        Answer to judge:
        \(answer.isEmpty ? "MISSING_ASSISTANT_MESSAGE" : answer)

        Evidence available to the assistant (JSON):
        \(evidence.serialized())

        Allowed reasons (JSON): \(JSON(reasons).serialized())
        Reply with one JSON object: score (integer 0 to 10), reasons (labels from the allowed list, each at most \
        once, none for a flawless answer), notes (one or two sentences), question_ok (true or false), answer_ok \
        (true or false).
        """
    }

    public static func conversationJudgeTask(turns: JSON, turnCount: Int, userPersona: String,
                                             assistantPersona: String, evidence: JSON, reasons: [String]) -> String
    {
        """
        Judge the whole conversation of \(turnCount) turns below: are the user's questions natural and the \
        assistant's answers correct, grounded and consistent across turns?

        User persona: \(userPersona)
        Assistant persona: \(assistantPersona)

        Turns (JSON):
        \(turns.serialized())

        Evidence available to the assistant (JSON):
        \(evidence.serialized())

        Allowed reasons (JSON): \(JSON(reasons).serialized())
        Reply with one JSON object: score (integer 0 to 10), reasons (labels from the allowed list, each at most \
        once, none for a flawless answer), notes (one or two sentences), question_ok (true or false), answer_ok \
        (true or false).
        """
    }
}
