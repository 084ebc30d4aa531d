// dlg-dedup with store.backend: postgres against a real server (DLG_PG_DSN): concurrent processes
// accept each distinct question once, a wrong password is a clear error without the password, a
// server restart mid-stream loses and doubles nothing, a server that stays down stops with 69.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// Dedup input: one pending question per record, each record its own conversation.
func pendingRecords(_ questions: [String], prefix: String) -> [JSONObject] {
    questions.enumerated().map { i, q in
        JSONObject([("conversation_id", .string("\(prefix)-\(i)")), ("status", "active"), ("language", "en"),
                    ("turns", .array([])), ("target_turns", 2),
                    ("pending", .obj(["user_message": .string(q), "state": "generated", "turn_index": 1]))])
    }
}

/// A project whose config says `store.backend: postgres`; the DSN comes from POSTGRES_DSN.
func postgresProject(label: String, extra: String = "") throws -> WorkDir {
    let work = try WorkDir(copyExamples: false, label: label)
    try work.writeConfig("""
    store:
      backend: postgres
      postgres:
        statement_timeout_ms: 30000
    \(extra)
    """)
    return work
}

func states(_ stdout: String) throws -> [(question: String, state: String)] {
    try JSONL.records(stdout).map {
        ($0["pending"]?["user_message"]?.stringValue ?? "", $0["pending"]?["state"]?.stringValue ?? "<none>")
    }
}

/// A PostgreSQL server of the test's own (scripts/pg.sh on a free port, data under .dlgforge/), for
/// tests that restart or stop it without disturbing the shared one.
final class PrivatePostgres: @unchecked Sendable {
    let port: Int
    let dir: String
    var env: [String: String] { ["PG_PORT": String(port), "PG_DIR": dir] }
    let script = ToolPaths.packageRoot.appendingPathComponent("scripts/pg.sh").path
    var dsn = ""

    init() async throws {
        port = try PrivatePostgres.freePort()
        dir = ToolPaths.packageRoot.appendingPathComponent(".dlgforge/pg-\(PostgresTestServer.freshRunID("t"))").path
        let up = try await runShell("'\(script)' up", env: env, timeout: .seconds(120))
        guard up.status == 0 else { throw HarnessError("pg.sh up failed\n\(up)") }
        // pg.sh prints where the DSN is (a 0600 file), not the DSN.
        dsn = try String(contentsOfFile: up.stdout.trimmingCharacters(in: .whitespacesAndNewlines), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func control(_ verb: String) async throws {
        let r = try await runShell("'\(script)' \(verb)", env: env, timeout: .seconds(120))
        guard r.status == 0 else { throw HarnessError("pg.sh \(verb) failed\n\(r)") }
    }

    func remove() async {
        _ = try? await runShell("'\(script)' purge", env: env, timeout: .seconds(120))
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: a.sin_port))
    }
}

@Suite("dlg-dedup with postgres") struct PostgresDedupTests {
    /// Four dlg-dedup processes at once on the same run, the records dealt out round-robin; their results.
    static func fourDedups(_ records: [JSONObject], work: WorkDir, run: String, dsn: String) async throws -> [ToolResult] {
        var procs: [RunningTool] = []
        for p in 0..<4 {
            let part = stride(from: p, to: records.count, by: 4).map { records[$0] }
            procs.append(try startTool("dlg-dedup", args: ["--config", work.configPath, "--run-id", run],
                                       stdin: Data(JSONL.text(part).utf8), env: ["POSTGRES_DSN": dsn], cwd: work.url))
        }
        var results: [ToolResult] = []
        for proc in procs { results.append(try await proc.finish(timeout: .seconds(300))) }
        return results
    }

    static let needsServer = Comment(rawValue: PostgresTestServer.howTo)

    @Test(.enabled(if: PostgresTestServer.available, needsServer), .timeLimit(.minutes(10)))
    func fourProcessesAcceptEachDistinctQuestionOnce() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let work = try postgresProject(label: "pg-dedup4")
        let run = PostgresTestServer.freshRunID("four")
        // 7,000 distinct questions and 3,000 repeats of them (other case and spacing), shuffled and
        // dealt to four processes, so most repeats land in another process than their original.
        var rng = SystemRandomNumberGenerator()
        let distinct = (0..<7000).map { "How does step \($0) of proofing work?" }
        var all = distinct
        for _ in 0..<3000 {
            let q = distinct.randomElement(using: &rng)!
            all.append("  " + q.uppercased().replacingOccurrences(of: " ", with: "   "))
        }
        all.shuffle(using: &rng)
        var accepted: [String] = []
        for r in try await Self.fourDedups(pendingRecords(all, prefix: "c"), work: work, run: run, dsn: dsn) {
            try #require(r.status == 0, "\(r)")
            let s = try states(r.stdout)
            #expect(s.count == 2500 && s.allSatisfy { $0.state == "accepted" || $0.state == "rejected" }, "\(r)")
            accepted += s.filter { $0.state == "accepted" }.map { ReplyValidation.normalize($0.question) }
        }
        #expect(accepted.count == distinct.count, "accepted \(accepted.count) of \(distinct.count) distinct")
        #expect(Set(accepted) == Set(distinct.map(ReplyValidation.normalize)))
        let db = try PGConnection(dsn: dsn)
        let stored = try db.query("SELECT count(*), count(DISTINCT question_norm) FROM dlgforge_questions WHERE run_id = $1", [.text(run)])
        #expect(stored[0, 0] == "7000" && stored[0, 1] == "7000")
        #expect(!work.exists("outputs/coverage_ledger.jsonl"), "the database is the store: no ledger file")
    }

    /// Near-duplicate dedup across four processes: every question comes in several wordings (a word
    /// added, clauses swapped, punctuation changed) dealt to different processes; of each family
    /// exactly one is accepted, and no accepted pair is at or above the threshold.
    @Test(.enabled(if: PostgresTestServer.available, needsServer), .timeLimit(.minutes(10)))
    func fourProcessesLetNoNearDuplicatePairThrough() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let work = try postgresProject(label: "pg-near4", extra: "coverage:\n  near_dedup_threshold: 0.8")
        let run = PostgresTestServer.freshRunID("near")
        let nouns = ["starter", "levain", "crumb", "crust", "loaf", "flour", "oven", "proof", "dough", "scoring",
                     "banneton", "hydration", "autolyse", "gluten", "rye", "spelt", "steam", "stone", "peel", "knife"]
        var families: [[String]] = []
        for i in 0..<60 {
            // 19 words; within a family J >= 19/22 = 0.86. Two families share at most one noun (b is 1
            // to 3 places after a) and differ in two numbers, so across them J <= 18/24 = 0.75.
            let a = nouns[i % 20], b = nouns[(i % 20 + 1 + i / 20) % 20]
            let base = "why does my \(a) behave oddly with the \(b) when I follow recipe \(i) from page \(100 + 3 * i) in the morning"
            families.append([base, base + " again", "when I follow recipe \(i) from page \(100 + 3 * i) in the morning, why does my \(a) behave oddly with the \(b)?",
                             base.replacingOccurrences(of: " with ", with: ", with ") + "!!", "so " + base + " today"])
        }
        var rng = SystemRandomNumberGenerator()
        var all = families.flatMap { $0 }
        all.shuffle(using: &rng)
        var accepted: [String] = []
        for r in try await Self.fourDedups(pendingRecords(all, prefix: "n"), work: work, run: run, dsn: dsn) {
            try #require(r.status == 0, "\(r)")
            accepted += try states(r.stdout).filter { $0.state == "accepted" }.map(\.question)
        }
        let sets = accepted.map { NearDuplicates.shingles($0) }
        var pairs: [String] = []
        for i in sets.indices { for j in sets.indices where j > i && NearDuplicates.jaccard(sets[i], sets[j]) >= 0.8 {
            pairs.append("\(accepted[i]) | \(accepted[j])")
        } }
        #expect(pairs.isEmpty, "near-duplicate pairs accepted: \(pairs)")
        for (n, family) in families.enumerated() {
            #expect(accepted.filter { family.contains($0) }.count == 1, "family \(n)")
        }
        let db = try PGConnection(dsn: dsn)
        let bands = try db.query("SELECT count(*), sum(cardinality(bands)) FROM dlgforge_near_bands WHERE run_id = $1", [.text(run)])
        #expect(bands[0, 0] == "60" && bands[0, 1] == "\(60 * NearDuplicates.Banding(threshold: 0.8).bands)",
                "one row of band hashes per accepted question: \(bands.rows)")
    }

    @Test(.enabled(if: PostgresTestServer.available, needsServer))
    func aWrongPasswordStopsWithAMessageWithoutIt() async throws {
        let secret = "NotThePassword-\(UInt32.random(in: 0...UInt32.max))"
        let dsn = try #require(PostgresTestServer.dsn(password: secret))
        let work = try postgresProject(label: "pg-badpw")
        let input = JSONL.text(pendingRecords(["Is this stored?"], prefix: "w"))
        let r = try await stage("dlg-dedup", work, nil, ["--run-id", "badpw"], stdin: input, env: ["POSTGRES_DSN": dsn])
        #expect(r.status == DlgError.Code.config.rawValue, "\(r)")
        #expect(r.stderr.contains("password authentication failed") && r.stderr.contains("database"), "\(r)")
        #expect(!r.stderr.contains(secret) && !r.stdout.contains(secret), "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
    }

    /// Upstream's sample config (backend postgres, empty DSN) keeps the file store outside distributed runs.
    @Test func postgresWithoutADSNKeepsTheFileStore() async throws {
        let work = try postgresProject(label: "pg-nodsn")
        let input = JSONL.text(pendingRecords(["Where is it kept?"], prefix: "f"))
        let r = try await stage("dlg-dedup", work, nil, stdin: input)
        try #require(r.status == 0, "\(r)")
        #expect(try states(r.stdout).map(\.state) == ["accepted"])
        #expect(try work.records("outputs/coverage_ledger.jsonl").count == 1)
    }

    @Test(.enabled(if: PostgresTestServer.available, needsServer), .timeLimit(.minutes(10)))
    func aServerRestartMidStreamLosesAndDoublesNothing() async throws {
        let pg = try await PrivatePostgres()
        do { try await restartCheck(pg) } catch { await pg.remove(); throw error }
        await pg.remove()
    }

    func restartCheck(_ pg: PrivatePostgres) async throws {
        let work = try postgresProject(label: "pg-restart")
        let questions = (0..<2000).map { "Question \($0 % 1500) about crumb?" }   // 500 repeats
        try work.write("in.jsonl", JSONL.text(pendingRecords(questions, prefix: "r")))
        let dedup = try ToolPaths.binary("dlg-dedup")
        // The first 1,000 records are decided, the server restarts, then the rest arrive.
        let script = """
            { head -n 1000 in.jsonl; sleep 1; '\(pg.script)' restart >&2; tail -n +1001 in.jsonl; } \
            | '\(dedup)' --config config.yaml --run-id restart > out.jsonl
            """
        var env = pg.env
        env["POSTGRES_DSN"] = pg.dsn
        let r = try await runShell(script, env: env, cwd: work.url, timeout: .seconds(300))
        try #require(r.status == 0, "\(r)")
        let s = try states(work.read("out.jsonl"))
        #expect(s.count == 2000)
        #expect(s.filter { $0.state == "accepted" }.count == 1500, "accepted \(s.filter { $0.state == "accepted" }.count)")
        #expect(s.filter { $0.state == "rejected" }.count == 500)
        let db = try PGConnection(dsn: pg.dsn)
        #expect(try db.query("SELECT count(*) FROM dlgforge_questions WHERE run_id = 'restart'")[0, 0] == "1500")
        #expect(try work.read("logs/run.log").contains("re-established 1 time(s)"), "the restart was seen and retried")
    }

    @Test(.enabled(if: PostgresTestServer.available, needsServer), .timeLimit(.minutes(10)))
    func aServerThatStaysDownStopsTheStageWith69KeepingWhatWasDone() async throws {
        let pg = try await PrivatePostgres()
        do { try await downCheck(pg) } catch { await pg.remove(); throw error }
        await pg.remove()
    }

    func downCheck(_ pg: PrivatePostgres) async throws {
        let work = try postgresProject(label: "pg-down", extra: "    reconnect_timeout_s: 2")
        let questions = (0..<400).map { "Down question \($0)?" }
        try work.write("in.jsonl", JSONL.text(pendingRecords(questions, prefix: "d")))
        let dedup = try ToolPaths.binary("dlg-dedup")
        let script = """
            { head -n 200 in.jsonl
              # The server goes down once the first 200 are decided (out.jsonl has them), however slow the
              # machine (a fixed sleep lost the race under AddressSanitizer); 30 s at most.
              for i in $(seq 300); do [ "$(wc -l < out.jsonl 2>/dev/null || echo 0)" -ge 200 ] && break; sleep 0.1; done
              '\(pg.script)' down >&2; tail -n +201 in.jsonl; } \
            | '\(dedup)' --config config.yaml --run-id down > out.jsonl
            """
        var env = pg.env
        env["POSTGRES_DSN"] = pg.dsn
        let started = Date()
        let r = try await runShell(script, env: env, cwd: work.url, timeout: .seconds(300))
        #expect(r.status == DlgError.Code.unavailable.rawValue, "\(r)")
        #expect(Date().timeIntervalSince(started) < 60, "the wait is bounded")
        #expect(r.stderr.contains("not back after 2 s") && !r.stderr.contains(pg.dsn), "\(r)")
        let s = try states(work.read("out.jsonl"))
        #expect(s.count == 400, "every record passes on, decided or still pending")
        #expect(s.prefix(200).allSatisfy { $0.state == "accepted" }, "what was done before the stop stays done")
        #expect(s.suffix(200).allSatisfy { $0.state == "generated" }, "the rest stays pending for the next pass")
        try await pg.control("up")
        let db = try PGConnection(dsn: pg.dsn)
        #expect(try db.query("SELECT count(*) FROM dlgforge_questions WHERE run_id = 'down'")[0, 0] == "200")
    }
}

/// `make pg-up` (scripts/pg.sh): no fixed password, no superuser for the tools, the password never printed.
@Suite("pg.sh's server") struct PGScriptTests {
    @Test(.timeLimit(.minutes(4)))
    func eachDataFolderGetsItsOwnPasswordAndTheToolsRoleIsNoSuperuser() async throws {
        let first = try await PrivatePostgres()
        let second: PrivatePostgres
        do { second = try await PrivatePostgres() } catch { await first.remove(); throw error }
        do { try await Self.check(first, second) } catch { Issue.record(error) }
        await first.remove()
        await second.remove()
    }

    static func check(_ first: PrivatePostgres, _ second: PrivatePostgres) async throws {
        for pg in [first, second] {
            let password = try String(contentsOfFile: pg.dir + "/password", encoding: .utf8)
            #expect(password.count >= 32 && pg.dsn.contains(password) && password != "dlgforge", "a random password made for this folder")
            for file in ["password", "dsn"] {
                let mode = try FileManager.default.attributesOfItem(atPath: pg.dir + "/" + file)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(file) is \(String(mode ?? 0, radix: 8))")
            }
            let up = try await runShell("'\(pg.script)' up", env: pg.env, timeout: .seconds(120))
            #expect(up.status == 0 && !up.stdout.contains(password) && !up.stderr.contains(password), "the password is never printed: \(up)")
            let db = try PGConnection(dsn: pg.dsn)
            let role = try db.query("SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user")
            #expect(role[0, 0] == "f" && role[0, 1] == "t", "the tools' role: superuser \(role[0, 0] ?? "?"), createdb \(role[0, 1] ?? "?")")
            let owner = try db.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
            #expect(owner[0, 0] == "dlgforge", "the role owns the tools' database")
        }
        let a = try String(contentsOfFile: first.dir + "/password", encoding: .utf8)
        let b = try String(contentsOfFile: second.dir + "/password", encoding: .utf8)
        #expect(a != b, "two data folders, two passwords")
    }
}
