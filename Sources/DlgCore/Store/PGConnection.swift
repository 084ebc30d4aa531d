import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A query parameter, sent in text format; the SQL says its type (`$1::text[]`, `$2::int`).
public enum PGValue: Sendable {
    case text(String)
    case int(Int)
    case textArray([String])
    case intArray([Int])
    case null

    /// The text libpq sends, NUL-terminated (nil: SQL NULL). PostgreSQL text cannot hold NUL, so a
    /// value with one is refused (65) rather than cut short at it.
    func encoded() throws(DlgError) -> [UInt8]? {
        var out: [UInt8] = []
        switch self {
        case .null: return nil
        case .int(let i): out = Array(String(i).utf8)
        case .text(let s):
            out.reserveCapacity(s.utf8.count + 1)
            for b in s.utf8 {
                if b == 0 { throw Self.nulError }
                out.append(b)
            }
        case .intArray(let a): out = Array(("{" + a.map(String.init).joined(separator: ",") + "}").utf8)
        case .textArray(let a):
            out.reserveCapacity(a.reduce(2) { $0 + $1.utf8.count + 3 })
            out.append(0x7B)  // {
            for (i, s) in a.enumerated() {
                if i > 0 { out.append(0x2C) }
                // Every element quoted, so NULL, empty strings, braces, commas and spaces stay text.
                out.append(0x22)
                for b in s.utf8 {
                    if b == 0 { throw Self.nulError }
                    if b == 0x22 || b == 0x5C { out.append(0x5C) }
                    out.append(b)
                }
                out.append(0x22)
            }
            out.append(0x7D)  // }
        }
        out.append(0)
        return out
    }

    static let nulError = DlgError.data("a text value contains a NUL character, which PostgreSQL text cannot store")
}

/// The statements of one transaction (`PGConnection.transaction`).
public struct PGTransaction {
    fileprivate let connection: PGConnection

    /// Runs one statement of the transaction with its parameters ($1, $2, ...).
    @discardableResult
    public func query(_ sql: String, _ params: [PGValue] = []) throws(DlgError) -> PGRows {
        try connection.statementInTransaction(sql, params)
    }
}

/// The rows of a result, as text (NULL is nil).
public struct PGRows: Sendable {
    public let rows: [[String?]]
    /// Rows the statement changed, for commands without RETURNING.
    public let affected: Int
    public var count: Int { rows.count }
    public subscript(_ row: Int, _ column: Int) -> String? { rows[row][column] }
}

/// One statement with its parameters, run on a connection or inside a transaction.
typealias PGQuery = (String, [PGValue]) throws(DlgError) -> PGRows

/// How long a lost connection is retried before the caller gets `unavailable` (69).
public struct PGRetryPolicy: Sendable {
    /// Seconds one statement may spend waiting for the server to come back, in total.
    public var totalWait: Double
    public var firstDelay: Double
    public var maxDelay: Double
    public init(totalWait: Double = 30, firstDelay: Double = 0.1, maxDelay: Double = 2) {
        self.totalWait = totalWait
        self.firstDelay = firstDelay
        self.maxDelay = maxDelay
    }
}

/// One libpq connection. The DSN means what it means to libpq (a URI or key=value pairs, `PG*`
/// variables, `~/.pgpass`, `sslmode`); it is never echoed: messages name the host, port and
/// database from `PQhost`/`PQport`/`PQdb`, and any password is masked in libpq's own text (`Redact`).
/// Queries are parameterized only. A connection lost mid-statement (the server restarted) is
/// re-established with bounded backoff and the statement run again, so statements must be safe to
/// repeat; after `retry.totalWait` seconds the statement fails with `unavailable` (69).
/// Thread-safe: statements are serialized by a lock.
public final class PGConnection: @unchecked Sendable {
    private let dsn: String
    private var conn: OpaquePointer?
    private let lock = NSLock()
    public let statementTimeoutMs: Int
    public let retry: PGRetryPolicy
    /// Connections re-established after a loss, for logs and tests.
    public private(set) var reconnects = 0
    /// `host H, port P, database D`, for messages.
    public private(set) var location = "postgres"

    /// Connects; a DSN libpq cannot parse or a refused login is a config error (78), a server that
    /// cannot be reached is `unavailable` (69).
    public init(dsn: String, statementTimeoutMs: Int = 30000, retry: PGRetryPolicy = PGRetryPolicy()) throws(DlgError) {
        self.dsn = dsn
        self.statementTimeoutMs = statementTimeoutMs
        self.retry = retry
        // Masked by value from here on, in this connection's messages and everywhere else (Redact).
        for p in try Self.passwords(in: dsn) { Redact.register(p) }
        let c = Self.open(dsn)
        conn = c
        location = Self.describe(c)
        guard let c, PQstatus(c) == CONNECTION_OK else {
            let e = connectFailure()
            PQfinish(c)
            conn = nil
            throw e
        }
        do throws(DlgError) {
            try setUp()
        } catch {
            PQfinish(c)
            conn = nil
            throw error
        }
    }

    deinit { if let conn { PQfinish(conn) } }

    /// Runs one statement with its parameters ($1, $2, ...).
    @discardableResult
    public func query(_ sql: String, _ params: [PGValue] = []) throws(DlgError) -> PGRows {
        var values: [[UInt8]?] = []
        values.reserveCapacity(params.count)
        for p in params { values.append(try p.encoded()) }
        return try withRetries { execute(sql, values) }
    }

    /// Runs `body` as one transaction (BEGIN ... COMMIT), the connection held for it alone. A lost
    /// connection, a deadlock or a serialization failure inside it rolls it all back and runs
    /// `body` again (so `body`, like a statement here, must be safe to repeat), until
    /// `retry.totalWait` has passed (then 69); any other error rolls it back and is thrown.
    public func transaction<T>(_ body: (PGTransaction) throws(DlgError) -> T) throws(DlgError) -> T {
        try withRetries { () -> Attempt<T> in
            retryReason = nil
            do throws(DlgError) {
                try statementInTransaction("BEGIN", [])
                let value = try body(PGTransaction(connection: self))
                try statementInTransaction("COMMIT", [])
                return .done(value)
            } catch {
                guard let reason = retryReason else {
                    if PQstatus(conn) == CONNECTION_OK { _ = execute("ROLLBACK", []) }
                    return .failed(error)
                }
                if reason.lost { return .lost(reason.why) }
                _ = execute("ROLLBACK", [])
                return .transient(reason.why)
            }
        }
    }

    /// One try of a statement or a transaction: its value, an error to throw, or why to try again.
    enum Attempt<T> {
        case done(T)
        case failed(DlgError)
        /// The connection was lost (the server restarted): reconnect, then try again.
        case lost(String)
        /// A deadlock or serialization failure rolled it back: back off, then try again.
        case transient(String)
    }

    /// Runs `attempt` with the lock held until it is done: a lost connection is re-established and a
    /// transient failure backed off (doubling from `retry.firstDelay`), until `retry.totalWait` has
    /// passed (then `unavailable`, 69). The one retry loop of query, transaction and script.
    private func withRetries<T>(_ attempt: () -> Attempt<T>) throws(DlgError) -> T {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date().addingTimeInterval(retry.totalWait)
        var delay = retry.firstDelay
        while true {
            if conn == nil || PQstatus(conn) != CONNECTION_OK { try reconnect(until: deadline) }
            switch attempt() {
            case .done(let value): return value
            case .failed(let e): throw e
            case .lost(let why):
                guard Date() < deadline else { throw stillFailing("connection lost: \(why)") }
                try reconnect(until: deadline)
            case .transient(let why):
                guard Date() < deadline else { throw stillFailing(why) }
                Thread.sleep(forTimeInterval: delay)
                delay = min(retry.maxDelay, delay * 2)
            }
        }
    }

    private func stillFailing(_ why: String) -> DlgError {
        DlgError.unavailable("postgres at \(location): \(why), still after \(Int(retry.totalWait)) s of retries")
    }

    /// Why the running transaction must start again (nil: it need not).
    private var retryReason: (lost: Bool, why: String)?

    /// One statement inside `transaction` (the lock is held): no retry of its own.
    @discardableResult
    fileprivate func statementInTransaction(_ sql: String, _ params: [PGValue]) throws(DlgError) -> PGRows {
        var values: [[UInt8]?] = []
        for p in params { values.append(try p.encoded()) }
        switch execute(sql, values) {
        case .done(let rows): return rows
        case .failed(let e): throw e
        case .lost(let why):
            retryReason = (true, why)
            throw DlgError.unavailable("postgres at \(location): connection lost: \(why)")
        case .transient(let why):
            retryReason = (false, why)
            throw DlgError.unavailable("postgres at \(location): \(why)")
        }
    }

    /// Runs a fixed SQL script (several statements, no parameters): schema creation only.
    public func script(_ sql: String) throws(DlgError) {
        try withRetries { () -> Attempt<Void> in
            switch outcome(PQexec(conn, sql)) {
            case .done: return .done(())
            case .failed(let e): return .failed(e)
            case .lost(let why): return .lost(why)
            case .transient(let why): return .transient(why)
            }
        }
    }

    // MARK: - Internals

    typealias Outcome = Attempt<PGRows>

    private static func open(_ dsn: String) -> OpaquePointer? {
        // Entries before "dbname" are defaults the DSN may override (libpq's expand_dbname rule).
        let keywords = ["connect_timeout", "fallback_application_name", "dbname"]
        let values = ["10", "dlgforge", dsn]
        var kw = keywords.map { strdup($0) }
        var vs = values.map { strdup($0) }
        defer { (kw + vs).forEach { free($0) } }
        kw.append(nil)
        vs.append(nil)
        return kw.withUnsafeBufferPointer { k in
            vs.withUnsafeBufferPointer { v in
                k.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: k.count) { kp in
                    v.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: v.count) { vp in
                        PQconnectdbParams(kp, vp, 1)
                    }
                }
            }
        }
    }

    /// Checks the DSN parses (78 otherwise, without echoing it) and returns the passwords to mask
    /// in messages: the DSN's own and PGPASSWORD.
    private static func passwords(in dsn: String) throws(DlgError) -> [String] {
        var err: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(dsn, &err) else {
            if let err { PQfreemem(err) }
            throw DlgError.config("store.postgres.dsn: not a connection string libpq can read (a postgresql:// URI or key=value pairs); the value is not shown because it may hold a password")
        }
        defer { PQconninfoFree(options) }
        var out: [String] = []
        var p = options
        while let keyword = p.pointee.keyword {
            if String(cString: keyword) == "password", let v = p.pointee.val, v.pointee != 0 { out.append(String(cString: v)) }
            p += 1
        }
        if let env = ProcessInfo.processInfo.environment["PGPASSWORD"], !env.isEmpty { out.append(env) }
        return out
    }

    private static func describe(_ c: OpaquePointer?) -> String {
        guard let c else { return "postgres" }
        func text(_ p: UnsafeMutablePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        var host = text(PQhost(c))
        if host.isEmpty || host.hasPrefix("/") { host = host.isEmpty ? "local socket" : "socket \(host)" }
        return "host \(host), port \(text(PQport(c))), database \(text(PQdb(c)))"
    }

    /// libpq's message with any password replaced, first line only, without "FATAL:".
    private func libpqReason(_ raw: String) -> String {
        var line = raw.split(separator: "\n").first.map(String.init) ?? raw
        if let r = line.range(of: "failed: ", options: .backwards) { line = String(line[r.upperBound...]) }
        for prefix in ["FATAL:", "ERROR:"] where line.hasPrefix(prefix) { line = String(line.dropFirst(prefix.count)) }
        return Redact.text(line.trimmingCharacters(in: .whitespaces))
    }

    private var errorText: String { conn.flatMap { PQerrorMessage($0) }.map { String(cString: $0) } ?? "" }

    private func connectFailure() -> DlgError {
        let raw = errorText
        let reason = libpqReason(raw.isEmpty ? "out of memory" : raw)
        let lower = raw.lowercased()
        let refusedLogin = ["password authentication failed", "no password supplied", "authentication failed",
                            "does not exist", "pg_hba.conf", "ssl", "certificate", "invalid sslmode",
                            "invalid connection option", "invalid integer value", "invalid value", "permission denied"]
            .contains { lower.contains($0) }
        if refusedLogin {
            return DlgError.config("postgres at \(location): \(reason); check store.postgres.dsn (or POSTGRES_DSN), PGPASSWORD or ~/.pgpass")
        }
        return DlgError.unavailable("postgres at \(location) is not reachable: \(reason); start it (make pg-up) or check store.postgres.dsn")
    }

    private var sessionSQL: String { "SET statement_timeout = \(max(0, statementTimeoutMs))" }

    private func setUp() throws(DlgError) {
        // The core prints nothing: server notices ("already exists, skipping") are dropped, not sent to stderr.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        if case .failed(let e) = outcome(PQexec(conn, sessionSQL)) { throw e }
    }

    /// Re-establishes a lost connection, backing off, until `deadline` (then 69).
    private func reconnect(until deadline: Date) throws(DlgError) {
        var delay = retry.firstDelay
        var reason = libpqReason(errorText)
        while true {
            if let c = conn { PQreset(c) } else { conn = Self.open(dsn) }
            if let c = conn, PQstatus(c) == CONNECTION_OK {
                PQsetNoticeProcessor(c, { _, _ in }, nil)
                if case .done = outcome(PQexec(c, sessionSQL)) {
                    reconnects += 1
                    return
                }
            }
            if !errorText.isEmpty { reason = libpqReason(errorText) }
            guard Date().addingTimeInterval(delay) < deadline else {
                throw DlgError.unavailable("postgres at \(location): connection lost and not back after \(Int(retry.totalWait)) s: \(reason)")
            }
            Thread.sleep(forTimeInterval: delay)
            delay = min(retry.maxDelay, delay * 2)
        }
    }

    private func execute(_ sql: String, _ values: [[UInt8]?]) -> Outcome {
        if values.isEmpty { return outcome(PQexecParams(conn, sql, 0, nil, nil, nil, nil, 0)) }
        // The encoded values are NUL-terminated already: point libpq at them, no copies.
        func withPointers(_ i: Int, _ acc: [UnsafePointer<CChar>?], _ body: ([UnsafePointer<CChar>?]) -> OpaquePointer?) -> OpaquePointer? {
            if i == values.count { return body(acc) }
            guard let v = values[i] else { return withPointers(i + 1, acc + [nil], body) }
            return v.withUnsafeBufferPointer { buf in
                buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { withPointers(i + 1, acc + [$0], body) }
            }
        }
        let res = withPointers(0, []) { pointers in
            pointers.withUnsafeBufferPointer { p in PQexecParams(conn, sql, Int32(values.count), nil, p.baseAddress, nil, nil, 0) }
        }
        return outcome(res)
    }

    private func outcome(_ res: OpaquePointer?) -> Outcome {
        guard let res else { return .lost(libpqReason(errorText)) }
        defer { PQclear(res) }
        let status = PQresultStatus(res)
        if status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK {
            let n = Int(PQntuples(res)), m = Int(PQnfields(res))
            var rows: [[String?]] = []
            rows.reserveCapacity(n)
            for i in 0..<n {
                var row: [String?] = []
                row.reserveCapacity(m)
                for j in 0..<m {
                    if PQgetisnull(res, Int32(i), Int32(j)) != 0 { row.append(nil); continue }
                    let len = Int(PQgetlength(res, Int32(i), Int32(j)))
                    let p = UnsafeRawPointer(PQgetvalue(res, Int32(i), Int32(j))!)
                    row.append(String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self))
                }
                rows.append(row)
            }
            let affected = Int(String(cString: PQcmdTuples(res))) ?? 0
            return .done(PGRows(rows: rows, affected: affected))
        }
        let state = dlg_pq_sqlstate(res).map { String(cString: $0) } ?? ""
        let primary = dlg_pq_primary_message(res).map { String(cString: $0) }
        let message = Redact.text(primary ?? libpqReason(errorText))
        if PQstatus(conn) == CONNECTION_BAD || state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state) {
            return .lost(message)
        }
        if state == "40P01" || state == "40001" { return .transient(message) }
        if state == "57014" {
            return .failed(DlgError.unavailable("postgres at \(location): a statement ran longer than store.postgres.statement_timeout_ms (\(statementTimeoutMs) ms)"))
        }
        return .failed(DlgError.io("postgres at \(location): \(message)\(state.isEmpty ? "" : " (SQLSTATE \(state))")"))
    }
}
