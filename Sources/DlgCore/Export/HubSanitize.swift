/// Rows of the Hugging Face export as upstream's current version cleans them: every
/// `assistant_reasoning[].reasoning_trace` gets the fixed set of keys (`question`,
/// `retrieval_queries{vector_db_search, web_search}`, `evidence[{id, cue, content}]`,
/// `premises[{id, text, evidence_refs, assumption}]`, `thinking[{text}]`, `confidence`,
/// `known_limits`), missing ones filled with empty values, nulls as "" and dropped from lists, so
/// that every row has one schema for the Hub's viewer. Other keys of a trace are kept, as upstream does.
public enum HubSanitize {
    /// The `assistant_reasoning` column (under its configured name) cleaned.
    public static func reasoning(_ value: JSON?) -> JSON? {
        guard let entries = value?.arrayValue else { return value }
        return .array(entries.map { entry in
            guard var e = entry.objectValue, let t = e["reasoning_trace"]?.objectValue else { return entry }
            e["reasoning_trace"] = .object(trace(t))
            return .object(e)
        })
    }

    public static func trace(_ t: JSONObject) -> JSONObject {
        var out = t
        out["question"] = .string(text(t["question"]))
        let rq = t["retrieval_queries"]?.objectValue
        out["retrieval_queries"] = .obj(["vector_db_search": JSON(textList(rq?["vector_db_search"])),
                                         "web_search": JSON(textList(rq?["web_search"]))])
        out["evidence"] = .array((t["evidence"]?.arrayValue ?? []).map { item in
            guard let o = item.objectValue else { return .obj(["id": "", "cue": "", "content": .string(text(item))]) }
            return .obj(["id": .string(text(o["id"])), "cue": .string(text(o["cue"])), "content": .string(text(o["content"]))])
        })
        out["premises"] = .array((t["premises"]?.arrayValue ?? []).map { item in
            guard let o = item.objectValue else {
                return .obj(["id": "", "text": .string(text(item)), "evidence_refs": [], "assumption": ""])
            }
            let assumption = ["assumption", "note", "text_note"].lazy.compactMap { o[$0] }.first { !$0.isNull }
            return .obj(["id": .string(text(o["id"])), "text": .string(text(o["text"])),
                         "evidence_refs": JSON(textList(o["evidence_refs"])), "assumption": .string(text(assumption))])
        })
        out["thinking"] = .array((t["thinking"]?.arrayValue ?? []).map { item in
            guard let o = item.objectValue else { return .obj(["text": .string(text(item))]) }
            var value = o["text"]
            if value == nil || value!.isNull {
                value = ["assumption", "text_is_assumption", "note", "content", "thought"].lazy.compactMap { o[$0] }
                    .first { !text($0).trimmingCharacters(in: .whitespaces).isEmpty }
            }
            return .obj(["text": .string(text(value))])
        })
        out["confidence"] = .string(text(t["confidence"]))
        out["known_limits"] = JSON(textList(t["known_limits"]))
        return out
    }

    /// A value as text: null is "", a boolean "true"/"false", an object or list its JSON.
    static func text(_ v: JSON?) -> String {
        switch v {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .bool(let b)?: return b ? "true" : "false"
        case .int(let i)?: return String(i)
        case .double(let d)?: return String(d)
        case let other?: return other.serialized()
        }
    }

    /// A list of non-blank strings; a single value becomes a one-item list.
    static func textList(_ v: JSON?) -> [String] {
        guard let v, !v.isNull else { return [] }
        let items = v.arrayValue ?? [v]
        return items.compactMap { item in
            if item.isNull { return nil }
            let s = text(item)
            return s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : s
        }
    }
}
