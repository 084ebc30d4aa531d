import Foundation

/// Removes things that look like secrets from text that goes to logs or messages.
public enum Redact {
    public static func text(_ s: String) -> String {
        var out = s
        for prefix in ["sk-", "hf_", "Bearer "] {
            var from = out.startIndex
            while let r = out.range(of: prefix, range: from..<out.endIndex) {
                // A key starts a token: "task-based" and "risk-free" hold "sk-" but no key.
                if r.lowerBound > out.startIndex {
                    let before = out[out.index(before: r.lowerBound)]
                    if before.isLetter || before.isNumber || before == "_" || before == "-" {
                        from = r.upperBound
                        continue
                    }
                }
                var end = r.upperBound
                while end < out.endIndex, !out[end].isWhitespace, out[end] != "\"" { end = out.index(after: end) }
                out.replaceSubrange(r.lowerBound..<end, with: "[redacted]")
                from = out.index(r.lowerBound, offsetBy: "[redacted]".count)
            }
        }
        // postgresql://user:password@host → postgresql://user:***@host
        if let scheme = out.range(of: "://"), let at = out[scheme.upperBound...].firstIndex(of: "@"),
           let colon = out[scheme.upperBound..<at].firstIndex(of: ":") {
            out.replaceSubrange(out.index(after: colon)..<at, with: "***")
        }
        return out
    }
}
