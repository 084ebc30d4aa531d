/// A reply's `content` as servers send it: a string, or a list of parts (`[{"type": "text", "text":
/// "..."}]`, as some OpenAI-compatible gateways and upstream's LiteLLM client return it). The text
/// parts are joined in order, with nothing between them (a JSON reply split across parts stays JSON);
/// parts that are not text (reasoning, images) are left out.
public enum ReplyContent {
    public static func text(_ content: JSON?) -> String {
        switch content {
        case .string(let s)?: return s
        case .array(let parts)?:
            var out = ""
            for part in parts {
                if let s = part.stringValue { out += s; continue }
                let type = part["type"]?.stringValue ?? "text"
                guard type == "text" || type == "output_text", let s = part["text"]?.stringValue else { continue }
                out += s
            }
            return out
        default: return ""
        }
    }
}
