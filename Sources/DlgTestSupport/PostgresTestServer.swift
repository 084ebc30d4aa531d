import Foundation

/// The PostgreSQL server the store tests use, named by the environment: `DLG_PG_DSN` (its DSN) and
/// `DLG_PG_RESTART` (a shell command that restarts it). `scripts/test-services.sh pg-up` starts one
/// and prints both; without them the tests that need a server are skipped with `howTo`.
public enum PostgresTestServer {
    public static let dsn: String? = {
        let v = ProcessInfo.processInfo.environment["DLG_PG_DSN"] ?? ""
        return v.isEmpty ? nil : v
    }()
    public static let restartCommand: String? = {
        let v = ProcessInfo.processInfo.environment["DLG_PG_RESTART"] ?? ""
        return v.isEmpty ? nil : v
    }()
    public static var available: Bool { dsn != nil }
    public static let howTo = "DLG_PG_DSN is not set: run `eval \"$(scripts/test-services.sh pg-up)\"` first (or make test)"
    public static let restartHowTo = "DLG_PG_RESTART is not set: run `eval \"$(scripts/test-services.sh pg-up)\"` first (or make test)"

    /// A run id no other test uses.
    public static func freshRunID(_ label: String) -> String {
        "\(label)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// The test DSN with another database and/or password (for a URI or a key=value DSN).
    public static func dsn(database: String? = nil, password: String? = nil) -> String? {
        guard let base = dsn else { return nil }
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://") {
            guard var c = URLComponents(string: base) else { return nil }
            if let database { c.path = "/" + database }
            if let password { c.password = password }
            return c.string
        }
        var out = base
        if let database { out += " dbname=\(database)" }
        if let password { out += " password=\(password)" }
        return out
    }
}
