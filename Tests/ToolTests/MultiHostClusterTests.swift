// dlg-cluster on three hosts that share only a network (scripts/testhosts.sh: network namespaces on a
// private bridge): the head on h0 (`up --listen`, Ray with no CPUs for shards, PostgreSQL reached over
// the network with a password); h1 and h2 joined with the installed dlg-cluster, seeing neither the
// checkout nor h0's /tmp; the project's mock LLM on each worker host. One cluster for the whole suite
// (an `up` costs seconds): a whole run with shards on both worker hosts and the limits held across them,
// a run whose shards cannot start, a worker host lost mid-run, and `down` naming the host it lost.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

extension RayClusterSuites {
@Suite("dlg-cluster on three hosts", .serialized) struct MultiHostClusterTests {
    static let rayPort = 6520
    static let pgPort = 54360
    static let mockPorts = [1: 18701, 2: 18702]

    /// `dlg-cluster VERB` on the head host h0 (which sees the test's files).
    static func onHead(_ work: WorkDir, _ verb: String, _ args: [String] = [], timeout: Duration = .seconds(400)) async throws -> ToolResult {
        try await TestHosts.run(0, [try ToolPaths.binary("dlg-cluster"), verb, "--config", work.configPath] + args,
                                env: headEnv(work), cwd: work.url, timeout: timeout)
    }

    static func headEnv(_ work: WorkDir) -> [String: String] {
        ["DLG_CLUSTER_DIR": work.file(".cluster").path, "DLG_CLUSTER_RAY_PORT": String(rayPort),
         "DLG_CLUSTER_PG_PORT": String(pgPort), "HOME": ProcessInfo.processInfo.environment["HOME"] ?? "/root",
         // The tools package is built once for the suite (it is keyed by the binary's hash).
         "DLG_BUNDLE_CACHE": ToolPaths.packageRoot.appendingPathComponent(".dlgforge/bundles").path]
    }

    static func configure(_ work: WorkDir, endpoints: [Int], maxInFlight: Int, maxRetries: Int = 3) throws {
        chmod(work.url.path, 0o711)  // PostgreSQL's own user reaches the head's folder (see ClusterTests.configure)
        try work.setConfig("run.target_languages", "[en, fr]")
        try work.setConfig("run.total_samples", "16")
        try work.setConfig("run.batch_size", "8")
        try work.setConfig("run.max_turns", "2")
        try work.setConfig("run.distributed", "{enabled: true, max_retries: \(maxRetries)}")
        let list = endpoints.map { "{name: h\($0), base_url: \"http://\(TestHosts.addresses[$0]):\(mockPorts[$0]!)/v1\", max_in_flight: \(maxInFlight)}" }
        try work.setConfig("llm.routing", "{endpoints: [\(list.joined(separator: ", "))]}")
    }

    /// The mock's /stats on host `host`, asked from h0 (the test's own network cannot reach the hosts).
    static func stats(_ host: Int) async throws -> JSON? {
        let r = try await TestHosts.run(0, ["/usr/bin/curl", "-s", "-m", "5", "http://\(TestHosts.addresses[host]):\(mockPorts[host]!)/stats"])
        return r.status == 0 ? try? JSONCodec.parse(r.stdout) : nil
    }

    static func startMock(_ host: Int, _ options: [String]) async throws -> RunningTool {
        let mock = try TestHosts.start(host, [try ToolPaths.binary("dlg-mock"), "--host", TestHosts.addresses[host],
                                               "--port", String(mockPorts[host]!)] + options)
        for _ in 0..<100 where try await stats(host) == nil { try await Task.sleep(for: .milliseconds(100)) }
        try #require(try await stats(host) != nil, "the mock on h\(host) does not answer: \(mock.stderrText)")
        return mock
    }

    static func join(_ host: Int, tokenFile: String, bin: String) async throws -> ToolResult {
        try await TestHosts.run(host, hidden: true, [bin + "/dlg-cluster", "join", "--address", "\(TestHosts.addresses[0]):\(rayPort)",
                                                     "--token-file", tokenFile, "--python", TestHosts.rayPython, "--cpus", "2",
                                                     "--state-dir", "/tmp/dlgworker"], timeout: .seconds(180))
    }

    static func runSummary(_ r: ToolResult) throws -> JSON { try JSONCodec.parse(r.stdout.split(separator: "\n").last.map(String.init) ?? "") }

    @Test(.timeLimit(.minutes(15)))
    func aRunAcrossWorkerHostsThatShareOnlyANetwork() async throws {
        try #require(TestHosts.available, Comment(rawValue: TestHosts.howTo))
        let work = try WorkDir(label: "multihost")
        var mocks: [RunningTool] = []
        do {
            try await Self.wholeStory(work, &mocks)
        } catch {
            Issue.record("\(error)\ncluster.log: \(String(((try? work.read(".cluster/cluster.log")) ?? "").suffix(3000)))")
        }
        // Whatever happened, nothing of the test stays on the hosts.
        _ = try? await Self.onHead(work, "down")
        for m in mocks { _ = try? await m.finish(timeout: .seconds(1)) }
        for host in 0...2 { try? await TestHosts.lose(host) }
    }

    static func wholeStory(_ work: WorkDir, _ mocks: inout [RunningTool]) async throws {
        let bin = try await TestHosts.installTools()
        mocks = [try await Self.startMock(1, ["--seed", "7", "--duplicate-rate", "0.3", "--latency-ms", "30", "--max-in-flight", "4"]),
                 try await Self.startMock(2, ["--seed", "7", "--duplicate-rate", "0.3", "--latency-ms", "30", "--max-in-flight", "4"])]
        try Self.configure(work, endpoints: [1, 2], maxInFlight: 4)

        // The head: Ray with no CPUs for shards and PostgreSQL, both on h0's address, PostgreSQL with a password.
        let up = try await Self.onHead(work, "up", ["--listen", TestHosts.addresses[0], "--head-cpus", "0"])
        try #require(up.status == 0, "\(up)")
        #expect(up.stdout.contains("postgres: started on \(TestHosts.addresses[0]):\(Self.pgPort)"), "\(up)")
        #expect(up.stdout.contains("firewall:") && up.stdout.contains("dlg-cluster join --address \(TestHosts.addresses[0]):\(Self.rayPort)"), "\(up)")
        let dsn = try work.read(".cluster/pg/dsn").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(dsn.hasPrefix("postgresql://dlgforge:") && dsn.contains("@\(TestHosts.addresses[0]):"), "the DSN names the host and a password")
        let password = try work.read(".cluster/pg/password")
        #expect(!up.stdout.contains(password) && !up.stderr.contains(password), "the password is never shown")

        // The token goes to the worker hosts as a user would copy it: a 0600 file they can read.
        let token = TestHosts.dir + "/ray-token"
        try Files.writeSecret(try work.read(".cluster/ray/auth_token"), to: token)
        let open = TestHosts.dir + "/ray-token-open"
        try Files.writeSecret(try work.read(".cluster/ray/auth_token"), to: open)
        chmod(open, 0o644)
        let refused = try await Self.join(1, tokenFile: open, bin: bin)
        #expect(refused.status == 78 && refused.stderr.contains("may be read by others"), "\(refused)")
        for host in [1, 2] {
            let joined = try await Self.join(host, tokenFile: token, bin: bin)
            try #require(joined.status == 0, "join on h\(host): \(joined)")
            #expect(joined.stdout.contains("joined \(TestHosts.addresses[0]):\(Self.rayPort) as \(TestHosts.addresses[host])"), "\(joined)")
            #expect(!joined.stdout.contains(try work.read(".cluster/ray/auth_token")), "the token is never shown")
        }
        let status = try await Self.onHead(work, "status")
        #expect(status.status == 0, "\(status)")
        for host in 1...2 { #expect(status.stdout.contains("host \(TestHosts.addresses[host]): alive, 2 CPU(s)"), "\(status)") }
        #expect(status.stdout.contains("host \(TestHosts.addresses[0]) (head): alive, 0 CPU(s)") && status.stdout.contains("firewall:"), "\(status)")

        // 1. A whole run: shards on both worker hosts, both mocks served, the in-flight limit held across hosts.
        let runID = "multihost-\(UInt32.random(in: 0...UInt32.max))"
        let run = try await Self.onHead(work, "run", ["--run-id", runID, "--shards", "4"])
        try #require(run.status == 0, "\(run)\nshard logs: \(Self.shardLogs(work, runID))")
        let summary = try Self.runSummary(run)
        let hosts = Set((summary["shards"]?.arrayValue ?? []).compactMap { $0["host"]?.stringValue })
        #expect(hosts == [TestHosts.addresses[1], TestHosts.addresses[2]], "shards ran on \(hosts): \(run.stdout)")
        let got = try ClusterTests.dataset(work)
        #expect(got.perLanguage == ["en": 16, "fr": 16], "\(got.perLanguage)")
        #expect(JSONL.duplicates(got.ids).isEmpty && JSONL.duplicates(got.questions).isEmpty, "\(JSONL.duplicates(got.questions))")
        for host in [1, 2] {
            let s = try #require(try await Self.stats(host))
            #expect((s["chat_completions"]?.intValue ?? 0) > 20, "h\(host)'s mock: \(s.serialized())")
            #expect(s["concurrency_refused"]?.intValue == 0 && (s["in_flight_peak"]?.intValue ?? 99) <= 4,
                    "max_in_flight 4 split across 4 shards on two hosts: \(s.serialized())")
        }
        let shipped = summary["shipping"]?["tools_bytes"]?.intValue ?? 0
        #expect(shipped > 0 && (summary["shards"]?.arrayValue ?? []).contains { ($0["fetched_bytes"]?.intValue ?? 0) >= shipped },
                "the tools reached the worker hosts: \(run.stdout)")
        // The shards' log lines reached the head's host, each with the host it came from.
        let log0 = (try? work.read("logs/shard-\(runID)-0.log")) ?? ""
        #expect(log0.contains("[\(TestHosts.addresses[1])]") || log0.contains("[\(TestHosts.addresses[2])]"), "\(log0.suffix(500))")

        // 2. A run whose shards cannot start: its endpoint is the head's loopback, which no worker reaches.
        let bad = try WorkDir(label: "multihost-bad")
        try Self.configure(bad, endpoints: [1], maxInFlight: 4, maxRetries: 0)
        try bad.setConfig("llm.routing", "{endpoints: [{name: here, base_url: \"http://127.0.0.1:9/v1\"}]}")
        // The same cluster (DLG_CLUSTER_DIR of the head's environment), another project.
        let failed = try await TestHosts.run(0, [try ToolPaths.binary("dlg-cluster"), "run", "--config", bad.configPath, "--shards", "2"],
                                             env: Self.headEnv(work), cwd: bad.url)
        #expect(failed.status == 75, "\(failed)")
        #expect(failed.stderr.contains("2 of 2 shard(s) failed") && failed.stderr.contains("shard 0 on host 10.231.7."), "\(failed)")
        #expect(failed.stderr.contains("    | ") && failed.stderr.contains("127.0.0.1:9"), "the shard's own log lines: \(failed)")

        // 3. A worker host lost mid-run (every process on h2, its mock too): its shards go to h1, resume
        // from the journal in PostgreSQL; the dataset is whole, nothing twice.
        try Self.configure(work, endpoints: [1], maxInFlight: 8)
        _ = try? await mocks[0].finish(timeout: .seconds(1))
        mocks[0] = try await Self.startMock(1, ["--seed", "9", "--duplicate-rate", "0.3", "--latency-ms", "300"])
        let lostID = "multihost-lost-\(UInt32.random(in: 0...UInt32.max))"
        let lost = try TestHosts.start(0, [try ToolPaths.binary("dlg-cluster"), "run", "--config", work.configPath, "--run-id", lostID, "--shards", "4"],
                                       env: Self.headEnv(work), cwd: work.url)
        // Lost once a shard runs on h2 and the run is well under way (a third of its requests made).
        let h2 = "[\(TestHosts.addresses[2])] dlg-run started"
        var underWay = false
        for _ in 0..<360 where lost.isRunning && !underWay {
            let onH2 = (0..<4).contains { ((try? work.read("logs/shard-\(lostID)-\($0).log")) ?? "").contains(h2) }
            if onH2 { underWay = (try await Self.stats(1)?["chat_completions"]?.intValue ?? 0) >= 40 }
            if !underWay { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(underWay, "no shard got going on h2: \(Self.shardLogs(work, lostID))")
        try await TestHosts.lose(2)
        let r = try await lost.finish(timeout: .seconds(400))
        try #require(r.status == 0, "\(r)\nshard logs: \(Self.shardLogs(work, lostID))")
        let after = try Self.runSummary(r)
        #expect(Set((after["shards"]?.arrayValue ?? []).compactMap { $0["host"]?.stringValue }) == [TestHosts.addresses[1]], "\(r.stdout)")
        // h1 already had the tools: the second run shipped it at most the project.
        #expect((after["shards"]?.arrayValue ?? []).allSatisfy { ($0["fetched_bytes"]?.intValue ?? 0) < shipped }, "\(r.stdout)")
        let whole = try ClusterTests.dataset(work)
        #expect(whole.perLanguage == ["en": 16, "fr": 16], "\(whole.perLanguage)")
        #expect(JSONL.duplicates(whole.ids).isEmpty && JSONL.duplicates(whole.questions).isEmpty, "\(JSONL.duplicates(whole.questions))")

        // down stops what up started, stops the node h1 joined, and names the host it could not reach.
        let down = try await Self.onHead(work, "down")
        #expect(down.status == 0, "\(down)")
        #expect(down.stdout.contains("host \(TestHosts.addresses[2]): could not reach it"), "\(down)")
        #expect(down.stdout.contains("1 joined node(s) stopping"), "\(down)")
        for m in mocks { _ = try? await m.finish(timeout: .seconds(1)) }
        var left: [String] = []
        for _ in 0..<60 {
            left = try await TestHosts.processes(1) + TestHosts.processes(0)
            if left.isEmpty { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(left.isEmpty, "left running on h0/h1 after down: \(left)")
        work.cleanup()
        bad.cleanup()
    }

    static func shardLogs(_ work: WorkDir, _ runID: String) -> String {
        (0..<4).map { i in "\n-- shard \(i):\n" + String(((try? work.read("logs/shard-\(runID)-\(i).log")) ?? "").suffix(1200)) }.joined()
    }
}
}
typealias MultiHostClusterTests = RayClusterSuites.MultiHostClusterTests
