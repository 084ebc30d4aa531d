import DlgTestSupport
import Foundation
import Testing

@testable import DlgCore

@Suite("postgres near index")
struct PostgresNearIndexTests {
    @Test func bandHashesRoundTripThroughTheArrayText() {
        let bands: [UInt64] = [0, 1, .max, 1 << 63, 0x1234_5678_9ABC_DEF0]
        #expect(PostgresNearIndex.bands(text: PostgresNearIndex.literal(bands)) == bands)
        #expect(PostgresNearIndex.bands(text: nil).isEmpty)
        #expect(PostgresNearIndex.bands(text: "{1,x}").isEmpty)
    }

    /// A database of schema version 1 (band rows looked up in the database) is carried over: its
    /// near-dedup questions are in the new table, found by a new process (their bands computed again
    /// from the text), and the old table is gone.
    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func aVersionOneDatabaseIsCarriedOver() throws {
        let admin = try PostgresStoreTests.connect()
        let name = "dlg_v1_" + UUID().uuidString.prefix(8).lowercased()
        // Identifiers cannot be parameters; the name is ours.
        try admin.query("CREATE DATABASE \(name)")
        defer { _ = try? admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        let q = "How long should I let my sourdough starter rest after feeding it before we bake?"
        do {
            let conn = try PostgresStoreTests.connect(PostgresTestServer.dsn(database: name))
            try conn.script(Self.versionOneSQL)
            try conn.query("""
                INSERT INTO dlgforge_questions VALUES ('r1', $1, 'a', 1, '{"question":"How long?"}', 1, 1),
                                                      ('r1', 'an exact-only question', 'b', 1, '{}', 1, 2)
                """, [.text(Text.normalized(q))])
            try conn.query("INSERT INTO dlgforge_question_bands VALUES ('r1', 0, 42, 'a', 1), ('r1', 1, 43, 'a', 1)")
        }
        let conn = try PostgresStoreTests.connect(PostgresTestServer.dsn(database: name))
        let store = try PostgresStore(connection: conn)
        #expect(try conn.query("SELECT max(version) FROM dlgforge_schema_version")[0, 0] == "2")
        #expect(try conn.query("SELECT to_regclass('dlgforge_question_bands') IS NULL")[0, 0] == "t")
        let carried = try conn.query("SELECT conversation_id, band_rows, bands IS NULL FROM dlgforge_near_bands WHERE run_id = 'r1'")
        #expect(carried.rows.map { $0.compactMap { $0 } } == [["a", "0", "t"]])
        let dedup = try PostgresDedupStore(store: store, runID: "r1", nearThreshold: 0.8)
        let near = "How long should I let my young sourdough starter rest after feeding it before we bake?"
        #expect(try dedup.decide([PostgresStoreTests.candidate("c", 1, near)])
                == [.nearDuplicate(of: questionHash(Text.normalized(q)), similarity: 15.0 / 16)])
        #expect(dedup.near?.recomputed == 1)
        #expect(dedup.matchTexts.values.first == "How long?")
        // The rows it writes carry their bands: read by the next process as they are.
        #expect(try dedup.decide([PostgresStoreTests.candidate("d", 1, "Which flour gives the most open crumb in a rye loaf?")])
                == [.accepted])
        let next = try PostgresDedupStore(store: store, runID: "r1", nearThreshold: 0.8)
        #expect(try next.decide([PostgresStoreTests.candidate("e", 1, "Which flour gives the most open crumb in a rye loaf, please?")])
                .allSatisfy { if case .nearDuplicate = $0 { true } else { false } })
        #expect(next.near?.recomputed == 1 && next.near?.count == 2)
    }

    /// A process that joins a run reads the rows committed before it a page at a time (here 3 a
    /// query), and finds the first and the last of them.
    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func aLateProcessReadsTheRunAPageAtATime() throws {
        let store = try PostgresStore(connection: try PostgresStoreTests.connect())
        let run = PostgresTestServer.freshRunID("near-pages")
        let topics = ["rye", "spelt", "levain", "crumb", "crust", "banneton", "hydration", "autolyse", "gluten", "oven", "stone"]
        let questions = topics.enumerated().map { "What should I know about the \($0.element) when baking loaf number \($0.offset) in winter?" }
        let first = try PostgresDedupStore(store: store, runID: run, nearThreshold: 0.8)
        #expect(try first.decide(questions.enumerated().map { PostgresStoreTests.candidate("q\($0.offset)", 1, $0.element) })
                == Array(repeating: .accepted, count: questions.count))
        let late = try PostgresDedupStore(store: store, runID: run, nearThreshold: 0.8)
        late.near?.pageSize = 3
        let decisions = try late.decide([PostgresStoreTests.candidate("x", 1, questions[0] + " Really?"),
                                         PostgresStoreTests.candidate("y", 1, questions[10] + " Really?")])
        for (decision, matched) in zip(decisions, [questions[0], questions[10]]) {
            let named = { if case .nearDuplicate(let of, let similarity) = decision { of == questionHash(Text.normalized(matched)) && similarity >= 0.8 } else { false } }()
            #expect(named, "\(decisions)")
        }
        #expect(late.near?.count == questions.count)
    }

    /// The tables of schema version 1 that this carries over, as version 1 created them.
    static let versionOneSQL = """
        CREATE TABLE dlgforge_schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE dlgforge_runs (run_id text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(),
                                    updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE dlgforge_questions (run_id text NOT NULL, question_norm text NOT NULL, conversation_id text NOT NULL,
            turn_index integer NOT NULL, entry text NOT NULL, batch bigint NOT NULL, ord integer NOT NULL,
            PRIMARY KEY (run_id, question_norm));
        CREATE TABLE dlgforge_question_bands (run_id text NOT NULL, band smallint NOT NULL, hash bigint NOT NULL,
            conversation_id text NOT NULL, turn_index integer NOT NULL,
            PRIMARY KEY (run_id, band, hash, conversation_id, turn_index));
        INSERT INTO dlgforge_runs (run_id) VALUES ('r1');
        INSERT INTO dlgforge_schema_version (version) VALUES (1);
        """
}
