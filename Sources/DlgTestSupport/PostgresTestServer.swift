import Foundation

/// The PostgreSQL server the store tests use, named by `DLG_PG_DSN`. `scripts/services/postgres.sh up`
/// (run by `make test`) starts one and prints it; without it the tests that need a server are skipped
/// with `howTo`. Tests that restart or stop a server start one of their own.
public enum PostgresTestServer {
    public static let dsn: String? = {
        let v = ProcessInfo.processInfo.environment["DLG_PG_DSN"] ?? ""
        return v.isEmpty ? nil : v
    }()
    public static var available: Bool { dsn != nil }
    public static let howTo = "DLG_PG_DSN is not set: run `eval \"$(scripts/services/postgres.sh up)\"` first (or make test)"

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
