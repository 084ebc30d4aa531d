// The release number, for `dlg --version`.

/// dlgforge's version.
public enum DlgVersion {
    /// The release number (semantic versioning).
    public static let version = "0.8.0"
}
