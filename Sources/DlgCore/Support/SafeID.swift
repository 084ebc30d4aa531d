import Foundation

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
