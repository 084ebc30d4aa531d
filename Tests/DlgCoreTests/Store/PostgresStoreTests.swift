// The PostgreSQL store against a real server (DLG_PG_DSN): parameters round-trip whatever they
// hold, dedup keeps the file store's rules, errors name host and database but never the password,
// a lost connection is re-established, a newer schema is refused.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("postgres store") struct PostgresStoreTests {
    static let nasty = [
        "'); DROP TABLE dlgforge_questions; --",
        "Robert'); DROP TABLE x; --",
        "it's \"quoted\" twice ''",
        #"back\slash \\ and \" and \n literally"#,
        "{braces,commas}, NULL, null, \"\"",
        "Ünïcödé: 日本語の質問ですか？ مرحبا 🙂 \u{200B}zero-width",
        "$1 $2 ::text[] -- not a parameter",
        "tab\there\r\nnewline",
    ]

    static func connect(_ dsn: String? = PostgresTestServer.dsn, timeoutMs: Int = 30000) throws -> PGConnection {
        try PGConnection(dsn: try #require(dsn), statementTimeoutMs: timeoutMs, retry: PGRetryPolicy(totalWait: 10))
    }

    static func candidate(_ cid: String, _ turn: Int, _ q: String) -> DedupCandidate {
        DedupCandidate(conversationID: cid, turnIndex: turn, question: q,
                       ledgerEntry: JSONObject([("question", .string(q)), ("conversation_id", .string(cid)),
                                                ("turn_index", .int(turn))]))
    }

    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func injectionStringsRoundTripAsPlainText() throws {
        let db = try Self.connect()
        for s in Self.nasty {
            let rows = try db.query("SELECT $1::text, $2::text[], array_length($2::text[], 1)",
                                    [.text(s), .textArray([s, "", "NULL", s])])
            #expect(rows[0, 0] == s)
            #expect(rows[0, 2] == "4")
        }
        // Through the dedup store: stored and compared like any other text, tables untouched.
        let store = try PostgresStore(connection: db)
        let run = PostgresTestServer.freshRunID("inject")
        let dedup = try PostgresDedupStore(store: store, runID: run)
        let first = try dedup.filterAndCommit(Self.nasty.enumerated().map { Self.candidate("c-\($0.offset)", 1, $0.element) })
        #expect(first == Array(repeating: true, count: Self.nasty.count))
        let again = try dedup.filterAndCommit(Self.nasty.map { Self.candidate("other", 1, $0.uppercased()) })
        #expect(again == Array(repeating: false, count: Self.nasty.count), "the same questions from another dialogue are duplicates")
        var stored: [String] = []
        try store.forEachLedgerEntry(runID: run) { (line: String) throws(DlgError) in
            stored.append((try? JSONCodec.parse(line))?["question"]?.stringValue ?? "<unreadable>")
        }
        #expect(stored == Self.nasty)
        #expect(try db.query("SELECT to_regclass('dlgforge_questions') IS NOT NULL")[0, 0] == "t")
    }

    /// Near dedup in the database follows the file store's rules: the lowest slot wins within a
    /// batch, a matched question is named by its question_hash, a retry of the same turn is accepted
    /// again, a turn asking anew is not blocked by its own old question, runs never mix.
    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func nearDedupFollowsTheFileStoreRules() throws {
        let db = try Self.connect()
        let store = try PostgresStore(connection: db)
        let run = PostgresTestServer.freshRunID("near")
        let dedup = try PostgresDedupStore(store: store, runID: run, nearThreshold: 0.8)
        let q = "How long should I let my sourdough starter rest after feeding it before we bake?"
        let id = String(SHA256.hex(Text.normalized(q)).prefix(16))
        #expect(try dedup.decide([Self.candidate("a", 1, q),
                                  Self.candidate("b", 1, "How long should I let my young sourdough starter rest after feeding it before we bake?"),
                                  Self.candidate("c", 1, "how long should i let my SOURDOUGH starter rest after feeding it before we bake?"),
                                  Self.candidate("d", 1, "Which flour gives the most open crumb in a rye loaf?")])
                == [.accepted, .nearDuplicate(of: id, similarity: 15.0 / 16), .duplicate, .accepted])
        // Across batches, from the database; the same turn again is accepted; its own new wording too.
        #expect(try dedup.decide([Self.candidate("e", 1, "After feeding it, before we bake: how long should I let my sourdough starter rest?"),
                                  Self.candidate("a", 1, q)])
                == [.nearDuplicate(of: id, similarity: 1), .accepted])
        #expect(try dedup.decide([Self.candidate("a", 1, q + " Really?")]) == [.accepted])
        let banding = NearDuplicates.Banding(threshold: 0.8)
        // A band row per accepted question, in the order accepted: a, d, a again (the retry), a's new wording.
        let rows = try db.query("""
            SELECT conversation_id, band_rows, cardinality(bands), question_norm FROM dlgforge_near_bands WHERE run_id = $1 ORDER BY id
            """, [.text(run)])
        #expect(rows.rows.map { $0[0] ?? "" } == ["a", "d", "a", "a"], "\(rows.rows)")
        #expect(rows.rows.allSatisfy { $0[1] == String(banding.rows) && $0[2] == String(banding.bands) })
        #expect(rows.rows.last?[3] == Text.normalized(q + " Really?"))
        // Another process of the run reads them all back: the new wording is found; turn a may go back
        // to its first wording (neither its old nor its new one blocks it).
        let second = try PostgresDedupStore(store: store, runID: run, nearThreshold: 0.8)
        #expect(try second.decide([Self.candidate("f", 1, q + " Really?!"), Self.candidate("a", 1, q)])
                == [.nearDuplicate(of: questionHash(Text.normalized(q + " Really?")), similarity: 1), .accepted])
        let other = try PostgresDedupStore(store: store, runID: PostgresTestServer.freshRunID("near-other"), nearThreshold: 0.8)
        #expect(try other.decide([Self.candidate("z", 1, q + " Really?")]) == [.accepted])
    }

    /// A question repeated in one batch after it was found near an accepted one is rejected too
    /// (it was left to exact dedup, where it was the first of its text: 17 near pairs of 10,000
    /// questions got through in the bench before).
    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func aRepeatOfANearDuplicateInOneBatchIsRejectedToo() throws {
        let store = try PostgresStore(connection: try Self.connect())
        let dedup = try PostgresDedupStore(store: store, runID: PostgresTestServer.freshRunID("near-repeat"), nearThreshold: 0.8)
        let q = "How long should I let my sourdough starter rest after feeding it before we bake?"
        let near = "How long should I let my young sourdough starter rest after feeding it before we bake?"
        let id = String(SHA256.hex(Text.normalized(q)).prefix(16))
        #expect(try dedup.decide([Self.candidate("a", 1, q)]) == [.accepted])
        #expect(try dedup.decide([Self.candidate("b", 1, near), Self.candidate("c", 1, near), Self.candidate("d", 1, near.uppercased())])
                == Array(repeating: .nearDuplicate(of: id, similarity: 15.0 / 16), count: 3))
    }

    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func dedupFollowsTheFileStoreRules() throws {
        let store = try PostgresStore(connection: try Self.connect())
        let run = PostgresTestServer.freshRunID("rules")
        let dedup = try PostgresDedupStore(store: store, runID: run)
        // Lowest slot wins within a batch; case and spaces do not matter; an empty question never passes.
        let batch = [Self.candidate("a", 1, "How do I  feed a starter?"), Self.candidate("b", 1, "how do i feed a STARTER?"),
                     Self.candidate("c", 1, "   "), Self.candidate("d", 2, "Why does bread rise?")]
        #expect(try dedup.filterAndCommit(batch) == [true, false, false, true])
        // A retry of the same conversation turn is accepted again; another turn asking it is not.
        #expect(try dedup.filterAndCommit([Self.candidate("a", 1, "how do i feed a starter?"),
                                           Self.candidate("a", 2, "How do I feed a starter?")]) == [true, false])
        // The same turn twice in one batch gets one decision.
        #expect(try dedup.filterAndCommit([Self.candidate("e", 1, "New one?"), Self.candidate("e", 1, "new ONE?")]) == [true, true])
        // Runs never mix.
        let other = try PostgresDedupStore(store: store, runID: PostgresTestServer.freshRunID("rules-other"))
        #expect(try other.filterAndCommit([Self.candidate("z", 1, "How do I feed a starter?")]) == [true])
        #expect(try store.runs().contains { $0.runID == run && $0.questions == 3 })
    }

    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func aWrongPasswordIsAConfigErrorThatNeverShowsIt() throws {
        let secret = "Wr0ng-S3cret-\(UInt32.random(in: 0...UInt32.max))"
        let dsn = try #require(PostgresTestServer.dsn(password: secret))
        do {
            _ = try PGConnection(dsn: dsn)
            Issue.record("a wrong password connected")
        } catch {
            #expect(error.code == .config, "\(error.message)")
            #expect(!error.message.contains(secret), "\(error.message)")
            #expect(!error.message.contains(dsn), "\(error.message)")
            #expect(error.message.contains("database") && error.message.contains("host"), "\(error.message)")
            #expect(error.message.contains("password authentication failed"), "\(error.message)")
        }
    }

    @Test func aServerThatIsNotThereIsUnavailableAndAMalformedDSNIsAConfigError() throws {
        let refused = try RefusedPort()
        do {
            _ = try PGConnection(dsn: "postgresql://u:TopSecret1@127.0.0.1:\(refused.port)/somedb")
            Issue.record("connected to a refused port")
        } catch {
            #expect(error.code == .unavailable, "\(error.message)")
            #expect(error.message.contains("127.0.0.1") && error.message.contains("somedb"), "\(error.message)")
            #expect(!error.message.contains("TopSecret1"), "\(error.message)")
        }
        do {
            _ = try PGConnection(dsn: "host=127.0.0.1 password=TopSecret2 'unterminated")
            Issue.record("a malformed DSN was accepted")
        } catch {
            #expect(error.code == .config, "\(error.message)")
            #expect(!error.message.contains("TopSecret2"), "\(error.message)")
        }
    }

    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func aLostConnectionIsReestablishedAndTheStatementRunsAgain() throws {
        let db = try Self.connect()
        let pid = try #require(db.query("SELECT pg_backend_pid()")[0, 0])
        let killer = try Self.connect()
        #expect(try killer.query("SELECT pg_terminate_backend($1::int)", [.text(pid)])[0, 0] == "t")
        let after = try db.query("SELECT pg_backend_pid(), $1::text", [.text("still here")])
        #expect(after[0, 1] == "still here")
        #expect(after[0, 0] != pid && db.reconnects == 1)
    }

    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func aStatementOverTheTimeoutStopsWithTheKeyNamed() throws {
        let db = try Self.connect(timeoutMs: 100)
        do {
            try db.query("SELECT pg_sleep(2)")
            Issue.record("the statement outlived statement_timeout")
        } catch {
            #expect(error.code == .unavailable && error.message.contains("statement_timeout_ms"), "\(error.message)")
        }
        #expect(try db.query("SELECT 1")[0, 0] == "1", "the connection stays usable")
    }

    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func aNewerSchemaThanThisToolKnowsIsRefused() throws {
        let admin = try Self.connect()
        let name = "dlg_schema_" + UUID().uuidString.prefix(8).lowercased()
        // Identifiers cannot be parameters; the name is ours.
        try admin.query("CREATE DATABASE \(name)")
        defer { _ = try? admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        do {
            let conn = try Self.connect(PostgresTestServer.dsn(database: name))
            _ = try PostgresStore(connection: conn)   // creates version 1
            try conn.query("INSERT INTO dlgforge_schema_version (version) VALUES (99)")
        }
        do {
            _ = try PostgresStore(connection: try Self.connect(PostgresTestServer.dsn(database: name)))
            Issue.record("a newer schema was accepted")
        } catch let error as DlgError {
            #expect(error.code == .config && error.message.contains("schema version 99"), "\(error.message)")
        }
    }
}
