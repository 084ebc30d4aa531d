import Foundation

/// A tool event's result as the record keeps it. `vector_db_search` results are stored without
/// `rendered` (the passages a second time, per turn, in every hop of the loop).
public enum ToolCallResult {
    /// Upstream's full tool result: `{query, results, rendered}`.
    public static func withRendered(_ result: JSON) -> JSON {
        guard var o = result.objectValue, o["rendered"] == nil, let results = o["results"]?.arrayValue else { return result }
        o["rendered"] = .string(results.isEmpty
            ? "Knowledge base is empty or no relevant passages were found."
            : results.map { "[\($0["source"]?.stringValue ?? "")] \($0["content"]?.stringValue ?? "")" }.joined(separator: "\n"))
        return .object(o)
    }
}
