// coverage.dedup_against_runs (issue 24): a run's questions checked, exact and near, against earlier
// runs of the same store, so a dataset built in several runs has no repeats.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct DedupAcrossRunsTests {
    static let first = "How long should I let my sourdough starter rest after feeding it before we bake?"
    static let near = "How long should I let my young sourdough starter rest after feeding it before we bake?"

    static func candidate(_ cid: String, _ q: String) -> DedupCandidate {
        DedupCandidate(conversationID: cid, turnIndex: 1, question: q,
                       ledgerEntry: JSONObject([("question", .string(q)), ("conversation_id", .string(cid)), ("turn_index", .int(1))]))
    }

    @Test func theKeyTakesRunIDsOrAll() throws {
        for (yaml, expected) in [("[a1, b2]", DedupAgainstRuns.runs(["a1", "b2"])), ("all", .all), ("ALL", .all),
                                 ("\"a1, b2\"", .runs(["a1", "b2"])), ("[]", DedupAgainstRuns.none)] {
            let f = try ConfigFixture("coverage:\n  dedup_against_runs: \(yaml)\n")
            defer { f.cleanup() }
            let s = try f.load()
            #expect(s.coverage.dedupAgainstRuns == expected, "\(yaml)")
            #expect(s.tree.unknownKeys.isEmpty, "\(s.tree.unknownKeys)")
        }
        for bad in ["[\"../etc\"]", "[\"a/b\"]", "[\"\"]"] {
            let f = try ConfigFixture("coverage:\n  dedup_against_runs: \(bad)\n")
            defer { f.cleanup() }
            do {
                _ = try f.load()
                Issue.record("\(bad) was accepted")
            } catch let e as DlgError {
                #expect(e.code == .config && e.message.contains("coverage.dedup_against_runs"), "\(e.message)")
            }
        }
        #expect(DedupAgainstRuns.all.resolve(stored: ["a", "b", "now"], current: "now") == ["a", "b"])
    }

    /// The file store's ledger holds every run of its output folder, so a second run there rejects
    /// the first's questions, exact and near; a run the folder does not hold is a config error.
    @Test func theFileStoreChecksTheRunsOfItsFolder() throws {
        let f = try ConfigFixture("saving:\n  output_dir: out\ncoverage:\n  near_dedup_threshold: 0.8\n  dedup_against_runs: [first]\n")
        defer { f.cleanup() }
        let settings = try f.load()
        do {
            _ = try StoreFactory.dedupStore(settings, ledger: nil, runID: nil)
            Issue.record("a run the folder does not hold was accepted")
        } catch {
            #expect(error.code == .config && error.message.contains("\"first\""), "\(error.message)")
        }
        try FileManager.default.createDirectory(atPath: settings.outputDir + "/run_state/first", withIntermediateDirectories: true)
        let earlier = try FileDedupStore(path: settings.ledgerPath)
        #expect(try earlier.decide([Self.candidate("first-en-0", Self.first)]) == [.accepted])
        let store = try StoreFactory.dedupStore(settings, ledger: nil, runID: nil)
        let id = questionHash(Text.normalized(Self.first))
        #expect(try store.decide([Self.candidate("second-en-0", Self.first.uppercased()), Self.candidate("second-en-1", Self.near)])
                == [.duplicate, .nearDuplicate(of: id, similarity: 15.0 / 16)])
    }

    @Test(.enabled(if: PostgresTestServer.available, Comment(rawValue: PostgresTestServer.howTo)))
    func postgresChecksTheNamedRunsOnly() throws {
        let db = try PGConnection(dsn: try #require(PostgresTestServer.dsn), statementTimeoutMs: 30000, retry: PGRetryPolicy(totalWait: 10))
        let store = try PostgresStore(connection: db)
        let (a, b) = (PostgresTestServer.freshRunID("across-a"), PostgresTestServer.freshRunID("across-b"))
        // A word of this test's own, so `all` below meets no question of an earlier test run.
        let nonce = "n" + UUID().uuidString.prefix(8).lowercased()
        let (first, near) = ("\(nonce) " + Self.first, "\(nonce) " + Self.near)
        let other = "\(nonce) Which flour gives the most open crumb in a rye loaf?"
        let similarity = NearDuplicates.jaccard(NearDuplicates.shingles(first), NearDuplicates.shingles(near))
        #expect(try PostgresDedupStore(store: store, runID: a, nearThreshold: 0.8).decide([Self.candidate("a-0", first)]) == [.accepted])
        #expect(try PostgresDedupStore(store: store, runID: b, nearThreshold: 0.8).decide([Self.candidate("b-0", other)]) == [.accepted])
        let id = questionHash(Text.normalized(first))
        // Against run a: its question again (exact) and a word longer (near) are rejected; run b's is not checked.
        let c = PostgresTestServer.freshRunID("across-c")
        let against = try PostgresDedupStore(store: store, runID: c, nearThreshold: 0.8, against: .runs([a]))
        #expect(try against.decide([Self.candidate("c-0", first), Self.candidate("c-1", near), Self.candidate("c-2", other)])
                == [.duplicate, .nearDuplicate(of: id, similarity: similarity), .accepted])
        #expect(against.matchTexts[id] == first, "the earlier run's text, from its ledger entry")
        // Exact dedup alone (threshold 0) also checks the earlier run; `all` takes every other run.
        let d = PostgresTestServer.freshRunID("across-d")
        let exactOnly = try PostgresDedupStore(store: store, runID: d, against: .all)
        #expect(exactOnly.againstRuns.contains(a) && exactOnly.againstRuns.contains(b) && !exactOnly.againstRuns.contains(d))
        #expect(try exactOnly.decide([Self.candidate("d-0", first), Self.candidate("d-1", other), Self.candidate("d-2", near)])
                == [.duplicate, .duplicate, .accepted])
        // A run the store does not hold is a config error.
        do {
            _ = try PostgresDedupStore(store: store, runID: d, against: .runs(["no-such-run-\(UUID().uuidString)"]))
            Issue.record("an unknown run was accepted")
        } catch {
            #expect(error.code == .config && error.message.contains("coverage.dedup_against_runs"), "\(error.message)")
        }
    }
}
