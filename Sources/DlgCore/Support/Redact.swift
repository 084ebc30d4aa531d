import Foundation

/// Removes secrets from text that leaves the process (logs, stderr, error messages, the journal, drop
/// reasons, run state, report, card, stats).
///
/// Two kinds of rule, applied in one pass (`RedactScan`):
/// - by value: every secret the tools were given is registered here when it is read (each provider's
///   API key, role key variables, the HF token, the web-search key, DSN passwords, the vLLM key,
///   `DLG_SECRET_<n>`), and masked wherever it appears, whatever it looks like: a server that repeats
///   the key it refused (`gsk_...`) has it masked in every log line and drop reason;
/// - by shape, for secrets the tools were not given (`text` only): tokens starting `sk-`, `hf_`,
///   `Bearer `, the password of a `scheme://user:password@host` URL and of a key=value DSN
///   (`password=...`, quoted or not).
/// Values shorter than 8 characters and placeholders (`EMPTY`, `${...}`) are not registered: masking
/// them would mangle ordinary text and protect nothing.
public enum Redact {
    /// What a secret is replaced by.
    public static let mask = "[redacted]"
    /// What a DSN password is replaced by (`postgresql://user:***@host`, `password=***`).
    public static let passwordMask = "***"
    /// Shorter values are not registered.
    public static let minimumLength = 8
    static let placeholders: Set<String> = ["empty", "none", "null", "changeme", "undefined", "password", "not-needed"]

    private static let lock = NSLock()
    nonisolated(unsafe) private static var current = RedactScan.Table(secrets: [])

    /// Whether a value could be a secret at all: long enough, and not a placeholder (`EMPTY`, `${...}`).
    public static func isSecretValue(_ value: String) -> Bool {
        let v = value.trimmingCharacters(in: .whitespacesAndNewlines)
        return v.utf8.count >= minimumLength && !v.hasPrefix("${") && !placeholders.contains(v.lowercased())
    }

    /// Registers a secret the tools were given; ignored when too short or a placeholder.
    public static func register(_ value: String) {
        let v = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard isSecretValue(v) else { return }
        var forms = [Array(v.utf8)]
        // As it appears inside JSON text (the journal, a logged request body), when that differs.
        var escaped: [UInt8] = []
        JSON.string(v).write(into: &escaped)
        escaped = Array(escaped.dropFirst().dropLast())
        if escaped != forms[0] { forms.append(escaped) }
        lock.withLock {
            let known = Set(current.secrets)
            let new = forms.filter { !known.contains($0) }
            guard !new.isEmpty else { return }
            current = RedactScan.Table(secrets: current.secrets + new)
        }
    }

    /// Registers the passwords of a DSN (a `postgresql://` URI or key=value pairs).
    public static func register(dsn: String) {
        for p in RedactScan.dsnPasswords(dsn) { register(p) }
    }

    /// The passwords a DSN holds, as libpq reads them (both the written and the percent-decoded form of a
    /// URI's); what `register(dsn:)` registers.
    public static func dsnPasswords(_ dsn: String) -> [String] { RedactScan.dsnPasswords(dsn) }

    /// Registers the values of the variables named (those set and not empty).
    public static func register(variables names: some Sequence<String>, in env: [String: String]) {
        for n in names { if let v = env[n] { register(v) } }
    }

    /// Config keys whose string values are secrets: `api_key`, `token`, `password`, `secret`, `dsn`, alone
    /// or as a part of one (`hf_token`, `db_password`); never `..._env`, which names a variable, not a value.
    public static let secretKeys = ["api_key", "token", "password", "secret", "dsn"]
    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return !k.hasSuffix("_env") && secretKeys.contains { k == $0 || k.hasSuffix("_" + $0) || k.hasPrefix($0 + "_") }
    }

    /// How many secret forms are known (a value and its JSON-escaped form count apart).
    public static var knownCount: Int { table.secrets.count }

    static var table: RedactScan.Table { lock.withLock { current } }

    /// Forgets every registered value (tests only).
    static func forgetAll() { lock.withLock { current = RedactScan.Table(secrets: []) } }

    /// `s` with known secrets, key-shaped tokens and DSN passwords masked; `s` itself when none.
    public static func text(_ s: String) -> String {
        let t = table
        var copy = s
        return copy.withUTF8 { bytes in
            guard let out = RedactScan.scan(bytes, table: t, shapes: true) else { return s }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// `bytes` (a data line: a record, a row, a file) with the known secrets masked, and nothing else:
    /// shapes are left alone, since a dialogue may well talk about `sk-learn` or a `Bearer` header.
    public static func values(_ bytes: [UInt8]) -> [UInt8] {
        let t = table
        guard !t.secrets.isEmpty else { return bytes }
        return bytes.withUnsafeBufferPointer { RedactScan.scan($0, table: t, shapes: false) } ?? bytes
    }

    /// `text` with the known secrets masked (a data line as a string).
    public static func values(_ text: String) -> String {
        let t = table
        guard !t.secrets.isEmpty else { return text }
        var copy = text
        return copy.withUTF8 { bytes in
            RedactScan.scan(bytes, table: t, shapes: false).map { String(decoding: $0, as: UTF8.self) } ?? text
        }
    }

    /// Whether `bytes` hold a known secret.
    public static func containsSecret(_ bytes: [UInt8]) -> Bool {
        let t = table
        guard !t.secrets.isEmpty else { return false }
        return bytes.withUnsafeBufferPointer { RedactScan.scan($0, table: t, shapes: false) } != nil
    }
}
