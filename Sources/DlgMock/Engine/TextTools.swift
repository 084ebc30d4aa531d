// Byte-level text helpers used to build plausible replies from prompt text.
// They work on UTF-8 bytes (not Characters) because prompts can be many kilobytes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum TextTools {
    /// Words that make poor question material: English function words and prompt boilerplate.
    static let stopwords: Set<String> = [
        "about", "above", "after", "again", "against", "also", "always", "among", "another", "answer",
        "answers", "anything", "assistant", "based", "because", "been", "before", "being", "below",
        "between", "both", "cannot", "chunk", "chunks", "context", "could", "coverage", "descriptor",
        "difficulty", "does", "doing", "down", "during", "each", "either", "else", "every", "facts",
        "field", "fields", "following", "from", "further", "generate", "given", "grounding", "have",
        "having", "here", "into", "intent", "itself", "json", "just", "knowledge", "like", "make",
        "many", "message", "messages", "might", "more", "most", "much", "must", "never", "none",
        "notes", "null", "only", "other", "otherwise", "ought", "over", "please", "question",
        "questions", "rather", "reply", "respond", "response", "return", "same", "schema", "should",
        "since", "snippet", "snippets", "some", "source", "still", "such", "system", "take", "target",
        "text", "than", "that", "their", "them", "then", "there", "these", "they", "this", "those",
        "through", "topic", "true", "false", "under", "until", "upon", "user", "using", "very", "want",
        "were", "what", "when", "where", "whether", "which", "while", "whom", "whose", "will", "with",
        "within", "without", "would", "your", "yours", "agent", "title", "object", "string", "array",
        "how", "why", "who", "the", "and", "for", "are", "can", "you", "did", "was", "has", "had", "not",
        "but", "our", "all", "any", "its", "may", "use", "too", "get", "got", "let", "one", "two", "yes",
        "able", "need", "needs", "well", "once", "come", "work", "works", "first", "last", "next", "older",
        "newer", "later", "earlier", "thing", "things", "write", "describe", "previous",
    ]

    /// Whether `word` reads like a noun (no -ed/-ly ending); used to prefer better question material.
    static func isNounLike(_ word: String) -> Bool {
        !(word.hasSuffix("ed") || word.hasSuffix("ly"))
    }

    /// Lowercased words of at least `minLength` bytes, in order of appearance.
    ///
    /// A word is a run of ASCII letters and digits and non-ASCII bytes; ASCII is
    /// lowercased. Words made only of digits, and stopwords when `filter` is set, are skipped.
    static func words(in text: String, minLength: Int = 1, filter: Bool = false, limit: Int = .max, scanBytes: Int = 65536) -> [String] {
        let list = WordList(text, minLength: minLength, filter: filter, distinct: false, limit: limit, scanBytes: scanBytes)
        return (0..<list.count).map(list.string)
    }

    /// The string value of the first `"key": "value"` pair in `text`, if any.
    static func firstStringValue(forKey key: String, in text: String) -> String? {
        let needle = Array("\"\(key)\"".utf8)
        var text = text
        return text.withUTF8 { utf8 -> String? in
            var start = 0
            while let found = find(needle, in: utf8, from: start) {
                var i = found + needle.count
                while i < utf8.count, isSpace(utf8[i]) { i += 1 }
                guard i < utf8.count, utf8[i] == UInt8(ascii: ":") else { start = found + 1; continue }
                i += 1
                while i < utf8.count, isSpace(utf8[i]) { i += 1 }
                guard i < utf8.count, utf8[i] == UInt8(ascii: "\"") else { start = found + 1; continue }
                i += 1
                let valueStart = i
                while i < utf8.count, utf8[i] != UInt8(ascii: "\""), utf8[i] != UInt8(ascii: "\\") { i += 1 }
                guard i < utf8.count, i > valueStart else { start = found + 1; continue }
                return String(decoding: UnsafeBufferPointer(rebasing: utf8[valueStart..<i]), as: UTF8.self)
            }
            return nil
        }
    }

    /// Labels from the first JSON array of short identifier strings that follows the
    /// word "reason" in `text` (e.g. `allowed reasons: ["vague","other"]`), if any.
    static func allowedLabels(in text: String) -> [String]? {
        var text = text
        return text.withUTF8 { utf8 -> [String]? in
            let needle = Array("reason".utf8)  // lowercase already
            var start = 0
            while let found = findCaseInsensitive(needle, in: utf8, from: start) {
                start = found + 1
                var i = found + needle.count
                let limit = min(utf8.count, i + 200)
                while i < limit, utf8[i] != UInt8(ascii: "[") { i += 1 }
                guard i < limit else { continue }
                // Only an array whose first element is a string can be a list of labels: parse nothing else
                // (the evidence a judge prompt carries is a long array of objects).
                var first = i + 1
                while first < utf8.count, isSpace(utf8[first]) { first += 1 }
                guard first < utf8.count, utf8[first] == UInt8(ascii: "\"") else { continue }
                guard let value = try? JSONParser.parsePrefix(UnsafeRawBufferPointer(utf8), at: i),
                      let elements = value.arrayValue, !elements.isEmpty else { continue }
                let labels = elements.compactMap(\.stringValue).filter(isLabel)
                if labels.count == elements.count { return labels }
            }
            return nil
        }
    }

    private static func isLabel(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 48 && s.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }

    /// A sentence-like fragment of `text` around the first occurrence of `word`
    /// (case-insensitive, at a word start) that lies in running prose, with whitespace
    /// collapsed, at most `maxBytes` long; nil when there is no such occurrence.
    static func fragment(around word: String, in text: String, maxBytes: Int = 180) -> String? {
        var text = text
        let needle = word.utf8.map(lower)
        return text.withUTF8 { utf8 -> String? in
            var start = 0
            while let center = findCaseInsensitive(needle, in: utf8, from: start) {
                start = center + 1
                if center > 0, isWordByte(utf8[center - 1]) { continue }
                let fragment = sentence(around: center, in: utf8, maxBytes: maxBytes)
                // Prose, not a key, an id or a list of tokens.
                if fragment.utf8.lazy.filter({ $0 == 0x20 }).count >= 3 { return fragment }
            }
            return nil
        }
    }

    /// The first sentence-like fragment of `text` that is running prose, if any.
    static func firstSentence(in text: String, maxBytes: Int = 180) -> String? {
        var text = text
        return text.withUTF8 { utf8 -> String? in
            var i = 0
            while i < utf8.count {
                while i < utf8.count, isBoundary(utf8[i]) || isSpace(utf8[i]) { i += 1 }
                guard i < utf8.count else { break }
                let fragment = sentence(around: i, in: utf8, maxBytes: maxBytes)
                if fragment.utf8.lazy.filter({ $0 == 0x20 }).count >= 3 { return fragment }
                while i < utf8.count, !isBoundary(utf8[i]) { i += 1 }
            }
            return nil
        }
    }

    private static func sentence(around center: Int, in utf8: UnsafeBufferPointer<UInt8>, maxBytes: Int) -> String {
        var lower = center
        while lower > 0, center - lower < maxBytes / 2, !isBoundary(utf8[lower - 1]) { lower -= 1 }
        var upper = center
        while upper < utf8.count, upper - lower < maxBytes, !isBoundary(utf8[upper]) { upper += 1 }
        if upper < utf8.count, utf8[upper] == UInt8(ascii: ".") {
            upper += 1
        } else if upper < utf8.count, !isBoundary(utf8[upper]) {
            // Cut by the window: end at a word boundary.
            var end = upper
            while end > center, !isSpace(utf8[end - 1]) { end -= 1 }
            if end > center { upper = end }
        }
        if lower > 0, !isBoundary(utf8[lower - 1]) {
            // Cut by the window: start at a word boundary.
            var begin = lower
            while begin < center, !isSpace(utf8[begin]) { begin += 1 }
            lower = begin
        }
        while lower < upper, utf8[lower] & 0xC0 == 0x80 { lower += 1 }
        while upper > lower, upper < utf8.count, utf8[upper] & 0xC0 == 0x80 { upper -= 1 }
        return collapse(UnsafeBufferPointer(rebasing: utf8[lower..<upper]))
    }

    @inline(__always)
    private static func isWordByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte >= 0x80
    }

    /// `text` with runs of whitespace collapsed to one space and trimmed, at most `maxBytes` long.
    /// The text after the last `marker` (trimmed), or nil when the marker is absent or nothing follows.
    static func afterLastMarker(_ marker: String, in text: String) -> String? {
        let bytes = Array(text.utf8)
        let needle = Array(marker.utf8)
        guard bytes.count >= needle.count, !needle.isEmpty else { return nil }
        var i = bytes.count - needle.count
        while i >= 0 {
            if bytes[i] == needle[0], bytes[i..<(i + needle.count)].elementsEqual(needle) {
                var start = i + needle.count
                var end = bytes.count
                while start < end, isSpace(bytes[start]) { start += 1 }
                while end > start, isSpace(bytes[end - 1]) { end -= 1 }
                return start < end ? String(decoding: bytes[start..<end], as: UTF8.self) : nil
            }
            i -= 1
        }
        return nil
    }

    static func collapsed(_ text: String, maxBytes: Int = .max) -> String {
        var text = text
        return text.withUTF8 { utf8 in
            var end = min(utf8.count, maxBytes)
            while end > 0, end < utf8.count, utf8[end] & 0xC0 == 0x80 { end -= 1 }
            return collapse(UnsafeBufferPointer(rebasing: utf8[0..<end]))
        }
    }

    private static func collapse(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var pendingSpace = false
        for byte in bytes {
            if isSpace(byte) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20); pendingSpace = false }
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func isBoundary(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: "\n"), UInt8(ascii: "\""),
             UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"):
            return true
        default:
            return false
        }
    }

    /// For an ASCII `marker`: the text after its first occurrence up to the next `"` (or the end), ASCII
    /// lowercased; "" when `marker` does not occur. Nil when a byte search could disagree with a search by
    /// Characters (a non-ASCII byte next to the match, in the value or after its closing quote): the caller
    /// then searches the Foundation way.
    static func asciiValue(after marker: String, in text: String) -> String? {
        var text = text
        let needle = Array(marker.utf8)
        return text.withUTF8 { utf8 -> String? in
            guard let found = find(needle, in: utf8, from: 0) else { return "" }
            if found > 0, utf8[found - 1] >= 0x80 { return nil }
            let start = found + needle.count
            var i = start
            while i < utf8.count, utf8[i] != UInt8(ascii: "\"") {
                if utf8[i] >= 0x80 { return nil }
                i += 1
            }
            if i + 1 < utf8.count, utf8[i + 1] >= 0x80 { return nil }
            var value = [UInt8](UnsafeBufferPointer(rebasing: utf8[start..<i]))
            for k in value.indices { value[k] = lower(value[k]) }
            return String(decoding: value, as: UTF8.self)
        }
    }

    /// Whether `text` contains `needle`, compared byte for byte.
    static func contains(_ needle: String, in text: String) -> Bool {
        var text = text
        let needle = Array(needle.utf8)
        return text.withUTF8 { find(needle, in: $0, from: 0) != nil }
    }

    private static func find(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let first = needle.first, needle.count <= haystack.count, let base = haystack.baseAddress else { return nil }
        var i = start
        let last = haystack.count - needle.count
        outer: while i <= last {
            // memchr to the next candidate: the first byte of `"topic_id"` is common, of most needles rare.
            guard let hit = memchr(base + i, Int32(first), last - i + 1) else { return nil }
            i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if haystack[i] == first {
                for j in 1..<needle.count where haystack[i + j] != needle[j] {
                    i += 1
                    continue outer
                }
                return i
            }
            i += 1
        }
        return nil
    }

    @inline(__always)
    static func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }

    /// The first offset from `start` where `needle` (already lowercased) occurs, ASCII case ignored.
    private static func findCaseInsensitive(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard !needle.isEmpty, needle.count <= haystack.count else { return nil }
        var i = start
        let last = haystack.count - needle.count
        let first = needle[0]
        outer: while i <= last {
            if lower(haystack[i]) != first { i += 1; continue }
            for j in 1..<max(1, needle.count) where lower(haystack[i + j]) != needle[j] {
                i += 1
                continue outer
            }
            return i
        }
        return nil
    }
}
