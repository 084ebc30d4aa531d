import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which config values are secrets, and a warning for a file that holds one where others on the
/// machine may read it (a config or `.env` left 0644 by an editor or a `git clone`).
public enum SecretFiles {
    /// Whether a config key's value is a secret: the one rule, Redact's (`api_key`, `hf_token`,
    /// `password`, `client_secret`, `dsn`, ...; `api_key_env` names a variable, not a secret).
    public static func isSecretKey(_ key: String) -> Bool { Redact.isSecretKey(key) }

    /// Whether an environment variable's name says it holds a secret (`OPENAI_API_KEY`, `HF_TOKEN`,
    /// `PGPASSWORD`, `CLIENT_SECRET`; `POSTGRES_DSN` when its value carries a password).
    static func isSecretVariable(_ name: String, value: String) -> Bool {
        let n = name.uppercased()
        if ["KEY", "TOKEN", "PASSWORD", "SECRET"].contains(where: { n.contains($0) }) { return true }
        return n.contains("DSN") && dsnHasPassword(value)
    }

    /// A DSN with a password in it: `scheme://user:password@host` or `password=...`.
    static func dsnHasPassword(_ dsn: String) -> Bool {
        if dsn.lowercased().contains("password=") { return true }
        guard let scheme = dsn.range(of: "://") else { return false }
        let authority = dsn[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" }
        guard let at = authority.lastIndex(of: "@") else { return false }
        return authority[..<at].contains(":")
    }

    /// Whether a value written in a file holds a secret itself, rather than only `${VAR}` references or a
    /// placeholder such as `EMPTY` (Redact's rule for what can be a secret).
    static func holdsValue(_ text: String) -> Bool {
        var rest = Substring(text)
        var literal = ""
        while let open = rest.range(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
            literal += rest[..<open.lowerBound]
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        return Redact.isSecretValue(literal)
    }

    /// Whether the user's YAML tree holds a secret written out (a non-empty value under a secret's key).
    static func yamlHoldsSecret(_ value: JSON, key: String = "") -> Bool {
        switch value {
        case .object(let o): return o.pairs.contains { yamlHoldsSecret($0.value, key: $0.key) }
        case .array(let items): return items.contains { yamlHoldsSecret($0, key: key) }
        case .string(let s) where isSecretKey(key):
            guard holdsValue(s) else { return false }
            return key.lowercased().contains("dsn") ? dsnHasPassword(s) : true
        default: return false
        }
    }

    /// Whether a `.env` file's variables hold a secret.
    static func dotEnvHoldsSecret(_ variables: [String: String]) -> Bool {
        variables.contains { !$0.value.isEmpty && isSecretVariable($0.key, value: $0.value) }
    }

    /// A warning when `path`, which holds a secret, may be read by its group or by others.
    static func warning(_ path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & 0o044 != 0 else { return nil }
        let mode = String(st.st_mode & 0o777, radix: 8)
        return "\(path): holds a key, token or password and other users of this machine may read it (mode \(mode)); chmod 600 \(path)"
    }
}
