// JSONL reading and writing for tests, through DlgCore's own JSON layer.

import DlgCore

/// JSON Lines helpers.
public enum JSONL {
    /// Non-empty lines, without their newline.
    public static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            .filter { !$0.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" } }
    }

    /// One JSON value per non-empty line; the error names the line.
    public static func values(_ text: String) throws -> [JSON] {
        try lines(text).enumerated().map { i, line in
            do { return try JSONCodec.parse(line) } catch {
                throw HarnessError("line \(i + 1) is not JSON (\(error)): \(line.prefix(200))")
            }
        }
    }

    /// One JSON object per non-empty line; the error names the line.
    public static func records(_ text: String) throws -> [JSONObject] {
        try values(text).enumerated().map { i, v in
            guard let o = v.objectValue else { throw HarnessError("line \(i + 1) is \(v.typeName), not an object") }
            return o
        }
    }

    /// Exactly one JSON object (a tool's one-line summary, a conversation file).
    public static func object(_ text: String) throws -> JSONObject {
        let v: JSON
        do { v = try JSONCodec.parse(text) } catch {
            throw HarnessError("not JSON (\(error)): \(text.prefix(300))")
        }
        guard let o = v.objectValue else { throw HarnessError("\(v.typeName), not an object: \(text.prefix(300))") }
        return o
    }

    /// Compact JSONL text for `records`, one per line, ending with a newline.
    public static func text(_ records: [JSONObject]) -> String {
        records.map { JSON.object($0).serialized() + "\n" }.joined()
    }

    /// The dedup key of a question: lowercase, whitespace collapsed (as dlg-dedup compares them).
    public static func normalized(_ question: String) -> String { ReplyValidation.normalize(question) }

    /// Elements that occur more than once, with their counts.
    public static func duplicates<T: Hashable>(_ items: [T]) -> [T: Int] {
        var counts: [T: Int] = [:]
        for i in items { counts[i, default: 0] += 1 }
        return counts.filter { $0.value > 1 }
    }
}

extension JSONObject {
    /// The object's keys as a set, for comparing shapes.
    public var keySet: Set<String> { Set(keys) }
}

extension JSON {
    /// The object's keys as a set (empty for non-objects).
    public var keySet: Set<String> { objectValue.map { Set($0.keys) } ?? [] }
}
