import Foundation

/// Lists of strings as models send them: a list of strings, a list of `{text}` objects, or one string.
public enum JSONLists {
    /// Up to `limit` strings from `v`.
    public static func strings(_ v: JSON?, limit: Int) -> [JSON] {
        guard let a = v?.arrayValue else {
            if let s = v?.stringValue, !s.isEmpty { return [.string(s)] }
            return []
        }
        return a.prefix(limit).compactMap { item in
            if let s = item.stringValue { return .string(s) }
            if case .object(let o) = item, let t = o["text"]?.stringValue { return .string(t) }
            return nil
        }
    }
}

/// The kb_answer's `reasoning_trace` in upstream's shape. Part of the record: stages write it, the export
/// and the Hub folder read it back.
public enum ReasoningTrace {
    /// Upstream's confidence levels; anything else reads as medium.
    public static let confidences = ["low", "medium", "high"]

    /// Upstream's trace normalisation: string thinking becomes `[{text}]`, premises get `assumption`,
    /// retrieval queries lose one-word language placeholders.
    public static func normalize(_ t: JSONObject, question: String) -> JSONObject {
        var out = JSONObject()
        out["question"] = .string(t["question"]?.stringValue ?? question)
        let placeholders = LanguageNames.placeholders
        func clean(_ v: JSON?) -> JSON {
            .array(JSONLists.strings(v, limit: 8).filter { q in
                let s = q.stringValue!.trimmingCharacters(in: .whitespaces)
                let oneWord = !s.contains(" ")
                return !(oneWord && (placeholders.contains(s.lowercased()) || s.count <= 2))
            })
        }
        let rq = t["retrieval_queries"]?.objectValue ?? JSONObject()
        out["retrieval_queries"] = .obj(["vector_db_search": clean(rq["vector_db_search"]),
                                         "web_search": clean(rq["web_search"])])
        var evidence: [JSON] = []
        for (i, e) in (t["evidence"]?.arrayValue ?? []).enumerated() {
            guard let eo = e.objectValue else { continue }
            evidence.append(.obj(["id": .string(eo["id"]?.stringValue ?? "E\(i + 1)"),
                                  "cue": .string(eo["cue"]?.stringValue ?? ""),
                                  "content": .string(eo["content"]?.stringValue ?? "")]))
        }
        out["evidence"] = .array(evidence)
        var premises: [JSON] = []
        for (i, p) in (t["premises"]?.arrayValue ?? []).enumerated() {
            guard let po = p.objectValue else { continue }
            var assumption = ""
            for key in ["assumption", "note", "text_note"] {
                if let v = po[key] {
                    if let b = v.boolValue { assumption = b ? "true" : "false" } else { assumption = v.stringValue ?? "" }
                    break
                }
            }
            premises.append(.obj(["id": .string(po["id"]?.stringValue ?? "P\(i + 1)"),
                                  "text": .string(po["text"]?.stringValue ?? ""),
                                  "evidence_refs": .array(JSONLists.strings(po["evidence_refs"], limit: 8)),
                                  "assumption": .string(assumption)]))
        }
        out["premises"] = .array(premises)
        if let s = t["thinking"]?.stringValue {
            out["thinking"] = .array([.obj(["text": .string(s)])])
        } else {
            out["thinking"] = .array(JSONLists.strings(t["thinking"], limit: 8).map { .obj(["text": $0]) })
        }
        let c = t["confidence"]?.stringValue ?? ""
        out["confidence"] = .string(confidences.contains(c) ? c : "medium")
        out["known_limits"] = .array(JSONLists.strings(t["known_limits"], limit: 5))
        return out
    }
}
