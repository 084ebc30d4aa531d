import Foundation

/// The JSON schemas of the agents' replies. One place drives both the request's `response_format` and
/// the validation of the reply. Every string and list is bounded, because a small model under a grammar
/// otherwise runs one string to max_tokens (see swift-facts.md); only what validation needs is required,
/// so such a model can close the object early, and normalisation fills in the rest.
public enum AgentSchemas {
    public static let intents = ["clarify", "how_to", "troubleshoot", "compare", "edge_case", "example_request",
                                 "decision_support", "constraints"]
    public static let difficulties = ["easy", "medium", "hard"]
    public static let confidences = ReasoningTrace.confidences

    static func str(_ max: Int, min: Int = 0) -> JSON {
        .obj(["type": "string", "minLength": .int(min), "maxLength": .int(max)])
    }
    static func list(_ item: JSON, max: Int) -> JSON { .obj(["type": "array", "items": item, "maxItems": .int(max)]) }
    /// No properties beyond those listed: llama.cpp's grammar otherwise lets a model add keys of its
    /// own with unbounded values (seen: SmolLM2 filling a made-up "target_topic" up to max_tokens).
    static func object(_ props: KeyValuePairs<String, JSON>, required: [String]) -> JSON {
        .obj(["type": "object", "properties": .obj(props), "required": JSON(required), "additionalProperties": false])
    }

    public static let questionMaxLength = 300
    public static let answerMaxLength = 500

    /// Built once: `RequestParts` then knows it by its storage.
    public static let qaGeneration: JSON =
        object([
            // Ends with a question mark: under a grammar this turns a small model's copied sentence into a
            // question. The pattern also bounds the length. The optional fields are small and single so
            // that a model filling every field still ends well inside max_tokens (seen: 1000-token replies).
            "user_message": .obj(["type": "string", "pattern": .string("^[^?？؟\\n]{8,200}[?？؟]$")]),
            "intent": .obj(["type": "string", "enum": JSON(intents)]),
            "difficulty": .obj(["type": "string", "enum": JSON(difficulties)]),
            "grounding_facts": list(object(["fact": str(120), "source_descriptor": str(40)],
                                           required: ["fact", "source_descriptor"]), max: 1),
            "coverage_target": str(40),
            "notes_for_assistant": list(str(100), max: 1),
        ], required: ["user_message", "intent", "difficulty"])

    public static let kbAnswer: JSON =
        object([
            "assistant_message": str(answerMaxLength, min: 1),
            "reasoning_trace": object([
                "question": str(150),
                "retrieval_queries": object([
                    "vector_db_search": list(str(60), max: 2), "web_search": list(str(60), max: 2),
                ], required: ["vector_db_search", "web_search"]),
                "evidence": list(object(["id": str(4), "cue": str(60), "content": str(150)],
                                        required: ["id", "cue", "content"]), max: 2),
                "premises": list(object(["id": str(4), "text": str(100), "evidence_refs": list(str(4), max: 2)],
                                        required: ["id", "text", "evidence_refs"]), max: 2),
                "thinking": list(object(["text": str(100)], required: ["text"]), max: 2),
                "confidence": .obj(["type": "string", "enum": JSON(confidences)]),
                "known_limits": list(str(100), max: 1),
            ], required: []),
            "did_web_search": .obj(["type": "boolean"]),
        ], required: ["assistant_message"])

    public static func judge(reasons: [String]) -> JSON {
        // No "uniqueItems": llama.cpp cannot turn it into a grammar and then drops the whole schema
        // (seen: free text instead of JSON). Validation removes repeated reasons instead.
        let reasonsSchema = list(.obj(["type": "string", "enum": JSON(reasons)]), max: 3)
        return object([
            "score": .obj(["type": "integer", "minimum": 0, "maximum": 10]),
            "reasons": reasonsSchema,
            "notes": str(150),
            "question_ok": .obj(["type": "boolean"]),
            "answer_ok": .obj(["type": "boolean"]),
        ], required: ["score", "reasons", "notes"])
    }
}

/// Finds the JSON object in a model's reply: bare, fenced in ``` blocks, or inside prose.
public enum ReplyJSON {
    public static func extract(_ text: String) -> JSONObject? {
        let trimmed = Text.trimmed(text)
        if let v = try? JSONCodec.parse(trimmed), let o = v.objectValue { return o }
        // The first balanced {...} that parses.
        let bytes = Array(trimmed.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "{") {
                var depth = 0, inString = false, escaped = false
                var j = i
                while j < bytes.count {
                    let c = bytes[j]
                    if inString {
                        if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true }
                        else if c == UInt8(ascii: "\"") { inString = false }
                    } else if c == UInt8(ascii: "\"") { inString = true }
                    else if c == UInt8(ascii: "{") { depth += 1 }
                    else if c == UInt8(ascii: "}") {
                        depth -= 1
                        if depth == 0 {
                            if let v = try? JSONCodec.parse(Array(bytes[i...j])), let o = v.objectValue { return o }
                            break
                        }
                    }
                    j += 1
                }
            }
            i += 1
        }
        return nil
    }
}
