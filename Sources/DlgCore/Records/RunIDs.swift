import Foundation

/// Run ids: 32 hex digits like upstream's uuid4().hex.
public enum RunIDs {
    public static func random() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(format: "%016llx", g.next()) }.joined()
    }

    /// The run id a config asks for: `run.resume_run_id`, else `run.run_id`; nil when neither is set.
    public static func configured(resumeRunID: String, runID: String) -> String? {
        if !resumeRunID.isEmpty { return resumeRunID }
        return runID.isEmpty ? nil : runID
    }
}
