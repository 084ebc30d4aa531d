// dlg-cluster on the test Ray cluster (a head and 2 worker nodes on this machine, DLG_RAY_ADDRESS) and
// the test PostgreSQL (DLG_PG_DSN): a run split in 4 shards, each a Ray task running dlg-run --shard,
// gives a single-machine run's counts with no duplicate question; a shard killed mid-run is retried by
// Ray and resumes from the database's journal.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// Every suite that starts Ray runs inside this one, one test at a time: Ray finds the other clusters of
/// the machine by their processes (it greps `ps`, and the test hosts share this machine's processes), and
/// heads started side by side on two cores time out.
@Suite("Ray clusters", .serialized) struct RayClusterSuites {}

extension RayClusterSuites {
@Suite("dlg-cluster", .serialized) struct ClusterTests {
    static let needs = Comment(rawValue: RayTestCluster.howTo + "; " + PostgresTestServer.howTo)
    static var available: Bool { RayTestCluster.available && PostgresTestServer.available }

    static func configure(_ work: WorkDir) throws {
        // PostgreSQL runs as its own user, who must reach the cluster's folder (else pg.sh puts the
        // server's files under /var/lib/dlgforge-pg, where a removed work folder would leave them).
        chmod(work.url.path, 0o711)
        try work.setConfig("run.target_languages", "[en, fr]")
        try work.setConfig("run.total_samples", "16")
        try work.setConfig("run.batch_size", "8")
        try work.setConfig("run.max_turns", "2")
    }

    static func clusterEnv(_ work: WorkDir, _ mock: MockServerProcess, dsn: String) -> [String: String] {
        var env = mock.env
        for (k, v) in RayTestCluster.env { env[k] = v }
        env["POSTGRES_DSN"] = dsn
        env["DLG_CLUSTER_DIR"] = work.file(".cluster").path
        return env
    }

    static func cluster(_ work: WorkDir, _ verb: String, _ args: [String] = [], env: [String: String]) async throws -> ToolResult {
        try await runTool("dlg-cluster", args: [verb, "--config", work.configPath] + args, env: env, cwd: work.url,
                          timeout: .seconds(400))
    }

    /// Conversations per language in the dataset, and the questions of its turns.
    static func dataset(_ work: WorkDir) throws -> (perLanguage: [String: Int], questions: [String], ids: [String]) {
        var per: [String: Int] = [:]
        let index = try work.records("outputs/conversations_index.jsonl")
        for line in index { per[line["language"]?.stringValue ?? "?", default: 0] += 1 }
        let turns = try work.records("outputs/turns.jsonl")
        return (per, turns.map { JSONL.normalized($0["user_message"]?.stringValue ?? "") },
                index.compactMap { $0["conversation_id"]?.stringValue })
    }

    /// Processes with a file open under `prefix`, or naming it on their command line (pid: command
    /// line); zombies hold none and have none.
    static func processesHoldingFiles(under prefix: String) -> [String] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int($0) != nil }
        return pids.compactMap { pid -> String? in
            let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") ?? Data()
            let cmdline = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            guard cmdline.contains(prefix) || fds.contains(where: {
                ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")) ?? "").hasPrefix(prefix) })
            else { return nil }
            return "\(pid): \(cmdline)"
        }
    }

    /// The shards' processes on this machine: dlg-run and its stages, run in a folder of the worker
    /// node's package cache (scripts/cluster_driver.py), as their command lines say.
    static func shardProcesses() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> String? in
            guard Int(name) != nil, let raw = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let cmdline = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return cmdline.contains("/worker-cache/work/shard-") && cmdline.contains("dlg-") ? "\(name): \(cmdline)" : nil
        }
    }

    /// No process of this test's project left: none has its config on its command line.
    static func leftovers(_ work: WorkDir) throws -> String {
        let r = try Subprocess.capture(["/usr/bin/pgrep", "-af", work.configPath])
        return String(decoding: r.output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(.enabled(if: available, needs), .timeLimit(.minutes(8)))
    func fourShardsOnThreeNodesGiveTheSingleMachineCounts() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let runID = PostgresTestServer.freshRunID("cluster")
        let reference = try WorkDir(label: "cluster-ref")
        let work = try WorkDir(label: "cluster-run")
        try Self.configure(reference)
        try Self.configure(work)
        try await withMock(["--seed", "7", "--duplicate-rate", "0.3", "--latency-ms", "20"]) { mock in
            let (ref, _) = try await runDlgRun(reference, mock, runID: runID)
            try #require(ref.status == 0, "\(ref)")
            let env = Self.clusterEnv(work, mock, dsn: dsn)
            let up = try await Self.cluster(work, "up", env: env)
            try #require(up.status == 0, "\(up)")
            #expect(up.stdout.contains("ray: using the cluster at \(RayTestCluster.address ?? "")") && up.stdout.contains("3 node(s) alive"), "\(up)")
            #expect(!up.stdout.contains(dsn) && !up.stderr.contains(dsn), "the DSN is never shown")
            // The run's key and the DSN's password reach the shards through the job's environment only:
            // not in a task's arguments (what Ray's GCS and object store keep) nor in a shipped file.
            var runEnv = env
            let key = "sk-cluster-\(UInt64.random(in: 1 << 40 ... 1 << 50))"
            runEnv["DLGFORGE_API_KEY"] = key
            runEnv["DLG_CLUSTER_ARGS_LOG"] = work.file("task-args.jsonl").path
            let run = try await Self.cluster(work, "run", ["--run-id", runID, "--shards", "4"], env: runEnv)
            try #require(run.status == 0, "\(run)")
            let password = try #require(dsn.split(separator: "@").first?.split(separator: ":").last.map(String.init))
            let args = try work.read("task-args.jsonl")
            #expect(args.split(separator: "\n").count == 4 && !args.contains(key) && !args.contains(password), "\(args)")
            let cache = (ProcessInfo.processInfo.environment["TEST_RAY_DIR"].map { URL(fileURLWithPath: $0, relativeTo: ToolPaths.packageRoot) }
                         ?? ToolPaths.packageRoot.appendingPathComponent(".dlgforge/ray-t")).appendingPathComponent("worker-cache").path
            let shipped = ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).filter { $0.hasPrefix("project-") }
            #expect(!shipped.isEmpty, "no project package in \(cache)")
            for dir in shipped {
                let config = try String(contentsOfFile: "\(cache)/\(dir)/config.yaml", encoding: .utf8)
                #expect(!config.contains(key) && !config.contains(password) && config.contains("${DLG_SECRET_"), "\(dir)/config.yaml holds a secret")
            }
            let summary = try JSONL.object(run.stdout)
            let shards = summary["shards"]?.arrayValue ?? []
            #expect(shards.count == 4, "\(run)")
            let nodes = Set(shards.compactMap { $0["node_id"]?.stringValue })
            #expect(nodes.count > 1, "the shards ran on \(nodes.count) node(s): \(run.stdout)")
            let want = try Self.dataset(reference)
            let got = try Self.dataset(work)
            #expect(got.perLanguage == want.perLanguage && got.perLanguage == ["en": 16, "fr": 16], "\(got.perLanguage) vs \(want.perLanguage)")
            #expect(JSONL.duplicates(got.ids).isEmpty)
            #expect(JSONL.duplicates(got.questions).isEmpty, "questions twice: \(JSONL.duplicates(got.questions))")
            // Each shard's rejected questions (--duplicate-rate) reached the head's rejections file, which
            // metrics.json reads: every rejected attempt of the dataset is listed there.
            let unlisted = try NearDedupRunTests.unlistedRejections(dataset: work, rejectionFolders: [work], runID: runID)
            #expect(try !NearDedupRunTests.rejectedAttempts(work).isEmpty && unlisted.isEmpty, "not in the head's rejections files: \(unlisted.sorted())")
            // PostgreSQL holds each accepted question of the run once.
            let db = try PGConnection(dsn: dsn)
            let stored = try db.query("SELECT count(*), count(DISTINCT question_norm) FROM dlgforge_questions WHERE run_id = $1", [.text(runID)])
            #expect(stored[0, 0] == stored[0, 1] && Int(stored[0, 0] ?? "") ?? 0 >= got.questions.count, "stored \(stored[0, 0] ?? "?") distinct \(stored[0, 1] ?? "?") turns \(got.questions.count)")
            let status = try await Self.cluster(work, "status", env: env)
            #expect(status.status == 0 && status.stdout.contains("ray: healthy"), "\(status)")
            for _ in 0..<2 {
                let down = try await Self.cluster(work, "down", env: env)
                #expect(down.status == 0, "\(down)")
            }
            #expect(!work.exists(".cluster/state.json"))
            let left = try Self.leftovers(work)
            #expect(left.isEmpty, "processes left: \(left)")
        }
    }

    @Test(.enabled(if: available, needs), .timeLimit(.minutes(8)))
    func aShardKilledMidRunIsRetriedAndNothingIsLostOrDoubled() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let runID = PostgresTestServer.freshRunID("cluster-kill")
        let work = try WorkDir(label: "cluster-kill")
        try Self.configure(work)
        try await withMock(["--seed", "9", "--duplicate-rate", "0.3", "--latency-ms", "150"]) { mock in
            let env = Self.clusterEnv(work, mock, dsn: dsn)
            let up = try await Self.cluster(work, "up", env: env)
            try #require(up.status == 0, "\(up)")
            let run = try startTool("dlg-cluster", args: ["run", "--config", work.configPath, "--run-id", runID, "--shards", "4"],
                                    env: env, cwd: work.url)
            // Shard 1's dlg-run, killed once it has journaled some dialogues of the run.
            let pidFile = "logs/shard-\(runID)-1.pid"
            let db = try PGConnection(dsn: dsn)
            let shardPID: @Sendable () -> Int32? = { Int32((try? work.read(pidFile))?.split(separator: "\n").first ?? "") }
            let seen = await watch(until: { shardPID() != nil && PostgresRunTests.journalRows(db, runID) >= 6 }, while: { run.isRunning },
                                   timeout: .seconds(120)) { _ = kill(shardPID()!, SIGKILL) }
            #expect(seen == .fired, "shard 1 was not killed mid-run (\(seen))")
            let r = try await run.finish(timeout: .seconds(300))
            try #require(r.status == 0, "\(r)")
            let attempts = try work.read(pidFile).split(separator: "\n").count
            #expect(attempts >= 2, "shard 1 ran \(attempts) time(s): Ray did not retry it")
            let got = try Self.dataset(work)
            #expect(got.perLanguage == ["en": 16, "fr": 16], "\(got.perLanguage)")
            #expect(JSONL.duplicates(got.ids).isEmpty && JSONL.duplicates(got.questions).isEmpty)
            let down = try await Self.cluster(work, "down", env: env)
            #expect(down.status == 0, "\(down)")
        }
    }

    /// dlg-cluster killed (SIGKILL) mid-run: its driver and every shard's dlg-run (and their stages) go
    /// with it; a rerun with the same run id resumes and completes.
    @Test(.enabled(if: available, needs), .timeLimit(.minutes(8)))
    func aKilledDlgClusterLeavesNoShardRunning() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let runID = PostgresTestServer.freshRunID("cluster-killed")
        let work = try WorkDir(label: "cluster-killed")
        try Self.configure(work)
        // A slow server (3 s a reply): the run would take minutes, so what goes must go because of the kill.
        try await withMock(["--seed", "11", "--latency-ms", "3000"]) { mock in
            let env = Self.clusterEnv(work, mock, dsn: dsn)
            let up = try await Self.cluster(work, "up", env: env)
            try #require(up.status == 0, "\(up)")
            let run = try startTool("dlg-cluster", args: ["run", "--config", work.configPath, "--run-id", runID, "--shards", "2"],
                                    env: env, cwd: work.url)
            let deadline = ContinuousClock.now + .seconds(120)
            while !(work.exists("logs/shard-\(runID)-0.pid") && work.exists("logs/shard-\(runID)-1.pid")) && run.isRunning && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .seconds(2))
            try #require(run.isRunning, "the run ended before the kill")
            let shards = Self.shardProcesses()
            try #require(shards.contains { $0.contains("/dlg-run ") }, "no shard running: \(shards)")
            run.kill(SIGKILL, group: false)  // dlg-cluster alone: what it started must follow by itself
            _ = try? await run.finish(timeout: .seconds(10))
            var left = shards
            let gone = ContinuousClock.now + .seconds(15)
            while !left.isEmpty && ContinuousClock.now < gone {
                try await Task.sleep(for: .milliseconds(200))
                left = Self.shardProcesses()  // /proc, not pgrep: no blocking child in the poll
            }
            #expect(left.isEmpty, "left running 15 s after dlg-cluster was killed: \(left)")
        }
        // The rerun (a fast server now) resumes the run and completes it.
        try await withMock(["--seed", "11", "--latency-ms", "20"]) { mock in
            let env = Self.clusterEnv(work, mock, dsn: dsn)
            let again = try await Self.cluster(work, "run", ["--run-id", runID, "--shards", "2"], env: env)
            try #require(again.status == 0, "\(again)")
            let got = try Self.dataset(work)
            #expect(got.perLanguage == ["en": 16, "fr": 16], "\(got.perLanguage)")
            #expect(JSONL.duplicates(got.ids).isEmpty && JSONL.duplicates(got.questions).isEmpty)
            let down = try await Self.cluster(work, "down", env: env)
            #expect(down.status == 0, "\(down)")
        }
    }

    @Test(.enabled(if: available, needs), .timeLimit(.minutes(5)))
    func aFailedUpStopsTheRayItStarted() async throws {
        let work = try WorkDir(label: "cluster-failed-up")
        try Self.configure(work)
        // PostgreSQL cannot start: its data folder is taken by a file. Ray (auto, started locally) was up by then.
        try work.write(".cluster/pg", "not a folder")
        var env = RayTestCluster.env
        env["RAY_ADDRESS"] = nil
        env["DLG_CLUSTER_DIR"] = work.file(".cluster").path
        env["DLG_CLUSTER_RAY_PORT"] = "6393"
        let up = try await Self.cluster(work, "up", env: env)
        #expect(up.status == 69, "\(up)")
        #expect(up.stderr.contains("PostgreSQL"), "\(up)")
        // Ray's temp dirs are under /tmp when the work folder's path is long (scripts/ray-local.sh).
        let tmp = (try? FileManager.default.destinationOfSymbolicLink(atPath: work.file(".cluster/ray/tmp").path)) ?? work.file(".cluster/ray").path
        let r = try Subprocess.capture(["/usr/bin/pgrep", "-af", tmp + "/n"])
        let left = String(decoding: r.output, as: UTF8.self)
        #expect(left.isEmpty, "left running after a failed up: \(left)")
        // Ray's agents rename themselves (ray::DashboardAgent): found by the log files they hold open.
        let agents = Self.processesHoldingFiles(under: (tmp as NSString).resolvingSymlinksInPath + "/n")
        #expect(agents.isEmpty, "Ray agents left running after a failed up: \(agents)")
        #expect(!work.exists(".cluster/state.json"))
        let down = try await Self.cluster(work, "down", env: env)
        #expect(down.status == 0 && down.stdout.contains("nothing to stop"), "\(down)")
    }
}
}
typealias ClusterTests = RayClusterSuites.ClusterTests

/// `dlg-cluster up` killed mid-start (its whole process group, as Ctrl-C or a closed terminal would): each
/// service was recorded before it was started, so the following `down` stops what was started.
extension RayClusterSuites {
@Suite("dlg-cluster up killed", .serialized) struct ClusterKilledUpTests {
    @Test(.enabled(if: ClusterTests.available, ClusterTests.needs), .timeLimit(.minutes(5)))
    func anUpKilledWhileRayStartsLeavesNothingThatDownCannotStop() async throws {
        let work = try WorkDir(label: "cluster-killed-up")
        try ClusterTests.configure(work)
        var env = RayTestCluster.env
        env["RAY_ADDRESS"] = nil
        env["DLG_CLUSTER_DIR"] = work.file(".cluster").path
        env["DLG_CLUSTER_RAY_PORT"] = "6394"
        env["DLG_CLUSTER_PG_PORT"] = String(try PrivatePostgres.freePort())
        let up = try startTool("dlg-cluster", args: ["up", "--config", work.configPath], env: env, cwd: work.url)
        // Ray's temp folder is made just before its head starts: the kill lands while nodes are starting.
        let tmpLink = work.file(".cluster/ray/tmp").path
        let seen = await watch(until: { (try? FileManager.default.destinationOfSymbolicLink(atPath: tmpLink)) != nil },
                               while: { up.isRunning }, timeout: .seconds(120)) {}
        try #require(seen == .fired, "up never started Ray (\(seen)): \(up.stderrText)")
        try await Task.sleep(for: .seconds(2))
        up.kill(SIGKILL, group: true)
        _ = try? await up.finish(timeout: .seconds(10))
        let tmp = try FileManager.default.destinationOfSymbolicLink(atPath: tmpLink)
        // Ray's temp folder is made by mktemp (private, its name not derived from the state's path).
        let mode = try FileManager.default.attributesOfItem(atPath: tmp)[.posixPermissions] as? Int
        #expect(tmp.hasPrefix("/tmp/dlgray-") && mode == 0o700 && !tmp.contains(String(work.url.lastPathComponent.suffix(6))),
                "\(tmp) mode \(String(mode ?? 0, radix: 8))")
        let down = try await ClusterTests.cluster(work, "down", env: env)
        #expect(down.status == 0 && down.stdout.contains("ray: stopped"), "\(down)")
        var left: [String] = []
        for _ in 0..<20 {
            left = ClusterTests.processesHoldingFiles(under: tmp) + ClusterTests.processesHoldingFiles(under: work.file(".cluster").path)
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(left.isEmpty, "left running after a killed up and its down: \(left)")
        #expect(!work.exists(".cluster/state.json"))
    }
}
}
typealias ClusterKilledUpTests = RayClusterSuites.ClusterKilledUpTests
