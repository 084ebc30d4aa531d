import Foundation

/// What is wrong with an input line that should be a dialogue record.
public struct RecordProblem: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Checks the fields every stage relies on, so a broken record is reported by name and line.
public enum RecordCheck {
    /// One input line as a record, or what is wrong with it.
    public static func parse(_ bytes: [UInt8]) -> Result<JSONObject, RecordProblem> { parse(bytes[...]) }

    /// One line as a record, read where it lies (a `LineReader` line, without copying it out).
    public static func parse(_ bytes: ArraySlice<UInt8>) -> Result<JSONObject, RecordProblem> {
        let parsed: JSON
        do { parsed = try JSONCodec.parse(bytes) } catch { return .failure(RecordProblem("malformed JSON: \(error)")) }
        guard case .object(let record) = parsed else {
            return .failure(RecordProblem("a record must be a JSON object, found \(parsed.typeName)"))
        }
        if let problem = problem(record) { return .failure(RecordProblem(problem)) }
        return .success(record)
    }

    /// The first thing wrong with `r`, or nil.
    public static func problem(_ r: JSONObject) -> String? {
        guard let id = r["conversation_id"] else { return "\"conversation_id\" is missing" }
        guard let s = id.stringValue, !s.isEmpty else { return "\"conversation_id\" is not a non-empty string" }
        if let why = SafeID.problem(s) { return "\"conversation_id\" \(why)" }
        guard let status = r["status"] else { return "\"status\" is missing" }
        guard let st = status.stringValue, RecordStatus(rawValue: st) != nil else {
            return "\"status\" must be \"active\", \"completed\" or \"dropped\""
        }
        guard r["turns"]?.arrayValue != nil else { return "\"turns\" is missing or not a list" }
        guard r["target_turns"]?.intValue != nil else { return "\"target_turns\" is missing or not an integer" }
        if let p = r["pending"], !p.isNull {
            guard p.objectValue != nil else { return "\"pending\" is not an object" }
            guard p["user_message"]?.stringValue != nil else { return "\"pending.user_message\" is not a string" }
        }
        return nil
    }

    /// A line of spaces and tabs only: skipped, not a record.
    public static func isBlank(_ line: some Collection<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
