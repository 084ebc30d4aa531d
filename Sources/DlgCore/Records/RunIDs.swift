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

/// The rule for every id that names a file or folder (run ids, conversation ids, ids taken from the
/// config): it must stay inside its folder and be printable.
public enum SafeID {
    /// Longer names fail on some file systems once a suffix is added (255 bytes per path component).
    public static let maxLength = 200

    /// Why `id` cannot name a file, or nil. Phrased to follow the name of the field: `"run_id" <problem>`.
    public static func problem(_ id: String) -> String? {
        if id.isEmpty { return "must not be empty" }
        if id.contains("/") || id.contains("..") { return "must not contain \"/\" or \"..\"" }
        if id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "must not contain control characters"
        }
        if id.utf8.count > maxLength { return "must be at most \(maxLength) bytes long" }
        return nil
    }
}
