import Foundation

/// Checks an agent's parsed reply and brings it into upstream's shape, or says why it cannot be used.
public enum ReplyValidation {
    /// Upstream's normalisation: lowercase, whitespace collapsed.
    public static func normalize(_ text: String) -> String { Text.normalized(text) }

    static func words(_ s: String) -> [String] { Text.lettersAndDigits(s) }

    /// The answer is the question again, maybe reworded a little: nearly all its words come from the
    /// question and it is not much longer.
    public static func isEcho(_ answer: String, of question: String) -> Bool {
        if normalize(answer) == normalize(question) { return true }
        let a = words(answer), q = Set(words(question))
        guard !a.isEmpty, !q.isEmpty else { return false }
        let fromQuestion = a.filter { q.contains($0) }.count
        return Double(a.count) <= Double(q.count) * 1.3 && Double(fromQuestion) >= 0.8 * Double(a.count)
    }

    /// A placeholder from the prompt copied back (`<the question, in en>`), seen with small models.
    public static func looksLikeTemplate(_ text: String) -> Bool { Text.hasPlaceholder(text) }

    static let questionStarts: Set<String> = [
        "how", "what", "why", "when", "where", "which", "who", "whom", "whose", "can", "could", "should", "would",
        "is", "are", "do", "does", "did", "will", "may", "might", "explain", "tell", "describe", "give", "show",
        "help", "list", "compare", "comment", "pourquoi", "quel", "quelle", "quels", "quelles", "quand", "où", "qui",
        "que", "est-ce", "combien", "peut-on", "dois-je", "faut-il", "cómo", "qué", "por", "cuál", "cuándo", "dónde",
        "wie", "was", "warum", "wann", "wo", "welche", "welcher", "kann", "soll",
    ]

    /// A question ends with a question mark (any script's) or opens like one ("How", "Explain", "Pourquoi").
    public static func looksLikeQuestion(_ text: String) -> Bool {
        if Text.contains(text, "?") || Text.contains(text, "؟") || Text.contains(text, "？") { return true }
        let opening = text.prefix(40).lowercased()
        let first = opening.split(whereSeparator: { $0.isWhitespace || $0 == "," }).first.map(String.init) ?? ""
        return questionStarts.contains(first)
    }

    /// A qa_generator reply. `snippets` are the passage texts the prompt carried.
    public static func question(_ o: JSONObject, snippets: [String], language: String = "") -> Result<JSONObject, DropReason> {
        guard let raw = o["user_message"] else { return .failure(.invalidOutput) }
        guard let message = raw.stringValue else { return .failure(.invalidOutput) }
        var text = Text.trimmed(message)
        // Small models narrate ("The user asked: ..."); keep the question itself.
        for prefix in ["the user asked:", "user asked:", "user:", "question:", "the user asks:"]
        where text.prefix(20).lowercased().hasPrefix(prefix) {
            text = Text.trimmed(String(text.dropFirst(prefix.count)))
        }
        if text.isEmpty { return .failure(.emptyQuestion) }
        let limit = AgentSchemas.questionMaxLength * 2
        if text.utf8.count > limit && text.count > limit { return .failure(.invalidOutput) }
        let norm = normalize(text)
        if looksLikeTemplate(text) || !looksLikeQuestion(text) { return .failure(.invalidOutput) }
        if LanguageCheck.isWrong(text, language: language) { return .failure(.wrongLanguage) }
        // A passage copied back is not a question (seen with a 135M model).
        // Scalars, not Characters: reversing a String by Character twice per question cost a tenth of
        // dlg-gen's CPU.
        let ends: Set<Unicode.Scalar> = ["?", "？", "؟", " ", ".", "!"]
        let scalars = norm.unicodeScalars
        var lo = scalars.startIndex
        var hi = scalars.endIndex
        while lo < hi, ends.contains(scalars[lo]) { lo = scalars.index(after: lo) }
        while hi > lo, ends.contains(scalars[scalars.index(before: hi)]) { hi = scalars.index(before: hi) }
        let body = String(scalars[lo..<hi])
        let opening = String(body.prefix(60))
        if body.utf8.count > 30 && body.count > 30 {
            for s in snippets {
                let passage = normalize(s)
                if Text.contains(passage, body) || (opening.count == 60 && Text.contains(passage, opening)) {
                    return .failure(.invalidOutput)
                }
            }
        }
        var out = JSONObject()
        out["user_message"] = .string(text)
        let intent = o["intent"]?.stringValue ?? ""
        out["intent"] = .string(AgentSchemas.intents.contains(intent) ? intent : "clarify")
        let difficulty = o["difficulty"]?.stringValue ?? ""
        out["difficulty"] = .string(AgentSchemas.difficulties.contains(difficulty) ? difficulty : "medium")
        var facts: [JSON] = []
        for f in o["grounding_facts"]?.arrayValue ?? [] {
            if let fo = f.objectValue, let fact = fo["fact"]?.stringValue {
                facts.append(.obj(["fact": .string(fact),
                                   "source_descriptor": .string(fo["source_descriptor"]?.stringValue ?? "")]))
            } else if let s = f.stringValue {
                facts.append(.obj(["fact": .string(s), "source_descriptor": ""]))
            }
        }
        out["grounding_facts"] = .array(Array(facts.prefix(5)))
        out["coverage_target"] = .string(o["coverage_target"]?.stringValue ?? "")
        out["notes_for_assistant"] = .array(JSONLists.strings(o["notes_for_assistant"], limit: 5))
        return .success(out)
    }

    /// A kb_responder reply for `question`.
    public static func answer(_ o: JSONObject, question: String, language: String = "") -> Result<JSONObject, DropReason> {
        guard let raw = o["assistant_message"], let message = raw.stringValue else { return .failure(.invalidOutput) }
        let text = Text.trimmed(message)
        if text.isEmpty { return .failure(.emptyAnswer) }
        if isEcho(text, of: question) { return .failure(.echoedQuestion) }
        // One bare token ("Yes", a file path) is not an answer from a knowledge base.
        if !Text.contains(normalize(text), " ") { return .failure(.invalidOutput) }
        if looksLikeTemplate(text) { return .failure(.invalidOutput) }
        if LanguageCheck.isWrong(text, language: language) { return .failure(.wrongLanguage) }
        var out = JSONObject()
        out["assistant_message"] = .string(text)
        out["reasoning_trace"] = .object(ReasoningTrace.normalize(o["reasoning_trace"]?.objectValue ?? JSONObject(), question: question))
        out["did_web_search"] = .bool(o["did_web_search"]?.boolValue ?? false)
        return .success(out)
    }


    /// A judge reply: score clamped to 0-10, reasons kept to the allowed set and unique.
    public static func judge(_ o: JSONObject, reasons allowed: [String]) -> Result<JSONObject, DropReason> {
        var score: Double?
        switch o["score"] {
        case .int(let i)?: score = Double(i)
        case .double(let d)?: score = d
        case .string(let s)?: score = Double(s.trimmingCharacters(in: .whitespaces))
        default: score = nil
        }
        guard let s = score, s.isFinite else { return .failure(.invalidOutput) }
        let clamped = min(10, max(0, Int(s.rounded())))
        var reasons: [String] = []
        for r in JSONLists.strings(o["reasons"], limit: 10).compactMap({ $0.stringValue }) {
            let label = allowed.contains(r) ? r : (allowed.contains("other") ? "other" : "")
            if !label.isEmpty && !reasons.contains(label) { reasons.append(label) }
        }
        var out = JSONObject()
        out["score"] = .int(clamped)
        out["reasons"] = JSON(reasons)
        out["notes"] = .string(o["notes"]?.stringValue ?? "")
        out["question_ok"] = .bool(o["question_ok"]?.boolValue ?? (clamped >= 5))
        out["answer_ok"] = .bool(o["answer_ok"]?.boolValue ?? (clamped >= 5))
        return .success(out)
    }
}
