// dlg-run with store.backend: postgres (DLG_PG_DSN): the same dataset as with the file store, and a
// run killed with SIGKILL resumes from the database's journal to that dataset.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-run with postgres") struct PostgresRunTests {
    static let needsServer = Comment(rawValue: PostgresTestServer.howTo)

    /// Runs dlg-run with the DSN in POSTGRES_DSN (the config's store.backend is upstream's default, postgres).
    static func pgRun(_ work: WorkDir, _ mock: MockServerProcess, runID: String, dsn: String) async throws
        -> (ToolResult, JSONObject?) {
        let r = try await stage("dlg-run", work, mock, ["--run-id", runID], env: ["POSTGRES_DSN": dsn], timeout: .seconds(300))
        return (r, try? JSONL.object(r.stdout))
    }

    static func journalRows(_ db: PGConnection, _ runID: String) -> Int {
        Int((try? db.query("SELECT count(*) FROM dlgforge_journal WHERE run_id = $1", [.text(runID)]))?[0, 0] ?? "") ?? 0
    }

    @Test(.enabled(if: PostgresTestServer.available, needsServer), .timeLimit(.minutes(10)))
    func theExampleRunGivesTheFileStoresDataset() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let runID = PostgresTestServer.freshRunID("example")
        let reference = try WorkDir(label: "pg-run-file")
        let work = try WorkDir(label: "pg-run-db")
        try await withMock(["--seed", "42"]) { mock in
            let (ref, _) = try await runDlgRun(reference, mock, runID: runID)
            try #require(ref.status == 0, "\(ref)")
            let (r, summary) = try await Self.pgRun(work, mock, runID: runID, dsn: dsn)
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 6, "fr": 6])
            try ResumeTests.compare(reference, work, kills: "none (file store against postgres)")
            #expect(!work.exists("outputs/run_state/\(runID)/journal.jsonl"), "the journal is in the database")
            #expect(r.stderr.contains("checkpoint in postgres"), "\(r)")
            let db = try PGConnection(dsn: dsn)
            #expect(Self.journalRows(db, runID) == 12)
            // dlg-export reads the run back from the database: the same dataset files again.
            let before = try work.read("outputs/turns.jsonl")
            try work.remove("outputs/turns.jsonl")
            try work.remove("outputs/coverage_ledger.jsonl")
            let exported = try await stage("dlg-export", work, nil, ["--run-id", runID], env: ["POSTGRES_DSN": dsn])
            try #require(exported.status == 0, "\(exported)")
            #expect(try work.read("outputs/turns.jsonl") == before)
            #expect(try work.records("outputs/coverage_ledger.jsonl").count == (summary?["turns"]?.intValue ?? -1))
            // dlg-export metrics reads the same run from the database: the export's figures, byte for byte.
            let figures = try work.read("outputs/metrics.json")
            try work.remove("outputs/metrics.json")
            let metrics = try await runTool("dlg-export", args: ["metrics", "--config", work.configPath, "--run-id", runID],
                                            env: ["POSTGRES_DSN": dsn], cwd: work.url)
            try #require(metrics.status == 0, "\(metrics)")
            #expect(try work.read("outputs/metrics.json") == figures, "dlg-export metrics wrote other figures than the export")
            // --list-runs shows it with its counts.
            let listed = try await stage("dlg-run", work, nil, ["--list-runs"], env: ["POSTGRES_DSN": dsn])
            try #require(listed.status == 0, "\(listed)")
            let row = try JSONL.records(listed.stdout).first { $0["run_id"]?.stringValue == runID }
            #expect(row?["dialogues"]?.intValue == 12 && row?["store"]?.stringValue == "postgres", "\(listed)")
            #expect(!listed.stdout.contains(dsn) && !listed.stderr.contains("dlgforge:dlgforge@"), "\(listed)")
        }
    }

    @Test(.enabled(if: PostgresTestServer.available, needsServer), .timeLimit(.minutes(10)))
    func aKilledRunResumesFromTheDatabaseJournal() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let runID = PostgresTestServer.freshRunID("resume")
        let reference = try WorkDir(label: "pg-resume-ref")
        let work = try WorkDir(label: "pg-resume-killed")
        try ResumeTests.configure(reference)
        try ResumeTests.configure(work)
        let db = try PGConnection(dsn: dsn)
        try await withMock(["--seed", "51", "--latency-ms", "100"]) { mock in
            let (full, fullSummary) = try await runDlgRun(reference, mock, runID: runID)
            try #require(full.status == 0, "\(full)")
            var env = mock.env
            env["POSTGRES_DSN"] = dsn
            var kills: [String] = []
            // Two SIGKILLs of the whole group: once some dialogues are journaled, then a moment later.
            for (rows, delay) in [(2, 300), (4, 700)] {
                let run = try startTool("dlg-run", args: ["--config", work.configPath, "--run-id", runID], env: env, cwd: work.url)
                let seen = await watch(until: { Self.journalRows(db, runID) >= rows }, while: { run.isRunning },
                                       timeout: .seconds(120), delay: .milliseconds(delay)) { run.kill(group: true) }
                guard seen == .fired else { _ = try await run.finish(timeout: .seconds(10)); break }
                let r = try await run.finish(timeout: .seconds(10))
                if r.status == 0 { break }
                #expect(r.status == 128 + SIGKILL, "\(r)")
                kills.append("after \(Self.journalRows(db, runID)) journal rows")
            }
            #expect(!kills.isEmpty, "no kill landed while the run was running")
            #expect(!work.exists("outputs/run_state/\(runID)/journal.jsonl"), "nothing to resume from but the database")
            let (resumed, summary) = try await Self.pgRun(work, mock, runID: runID, dsn: dsn)
            try #require(resumed.status == 0, "\(resumed)")
            let expected = (fullSummary?["completed"]?.objectValue?.pairs ?? []).reduce(into: [String: Int]()) {
                $0[$1.key] = $1.value.intValue ?? 0
            }
            try checkFinishedRun(work, resumed, summary: summary, completed: expected, allowTemporaries: true)
            for key in ["completed", "dialogues", "turns", "dropped"] {
                #expect(summary?[key] == fullSummary?[key], "summary \(key): resumed \(summary?[key]?.serialized() ?? "nil"), uninterrupted \(fullSummary?[key]?.serialized() ?? "nil")")
            }
            try ResumeTests.compare(reference, work, kills: kills.joined(separator: ", "))
        }
    }
}
