// dlg-cluster with llm.backend: vllm_managed (the stand-in vllm), and the checks that need no Ray: a
// worker host the tools cannot run on, and which mode a config means.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// llm.backend: vllm_managed with the stand-in `vllm` (scripts/vllm-standin: the mock behind vLLM's
/// command line) first on PATH: replicas as Ray actors, their key, health wait, routing, stop.
extension RayClusterSuites {
@Suite("dlg-cluster with vllm_managed", .serialized) struct ClusterVLLMTests {
    static func managed(_ work: WorkDir, replicas: Int, port: Int, extra: String = "") throws {
        try ClusterTests.configure(work)
        try work.setConfig("llm.backend", "vllm_managed")
        try work.setConfig("llm.vllm", "{model: stand-in/model, served_model_name: mock-model, replicas: \(replicas), num_gpus_per_replica: 0, port_start: \(port), health_timeout_s: 30\(extra)}")
    }

    static func env(_ work: WorkDir, dsn: String, mockArgs: String) -> [String: String] {
        var env = RayTestCluster.env
        env["POSTGRES_DSN"] = dsn
        env["DLG_CLUSTER_DIR"] = work.file(".cluster").path
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        env["PATH"] = repo.appendingPathComponent("scripts/vllm-standin").path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        env["DLG_MOCK_BIN"] = (try? ToolPaths.binary("dlg-mock")) ?? ""
        env["DLG_STANDIN_MOCK_ARGS"] = mockArgs
        return env
    }

    static func requests(port: Int) -> Int {
        guard let data = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/stats")!),
              let o = (try? JSONCodec.parse(String(decoding: data, as: UTF8.self)))?.objectValue else { return -1 }
        return o["chat_completions"]?.intValue ?? o["requests"]?.intValue ?? -1
    }

    @Test(.enabled(if: ClusterTests.available, ClusterTests.needs), .timeLimit(.minutes(8)))
    func twoReplicasBothServeTheRun() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let runID = PostgresTestServer.freshRunID("cluster-vllm")
        let work = try WorkDir(label: "cluster-vllm")
        // The replicas stay up after the run (checked below); the next test checks the default.
        try Self.managed(work, replicas: 2, port: 18610, extra: ", auto_stop_on_exit: false")
        let env = Self.env(work, dsn: dsn, mockArgs: "--latency-ms 100 --duplicate-rate 0.3")
        let up = try await ClusterTests.cluster(work, "up", env: env)
        defer { Task { _ = try? await ClusterTests.cluster(work, "down", env: env) } }
        try #require(up.status == 0, "\(up)")
        #expect(up.stdout.contains("replica 0 healthy at http://127.0.0.1:18610/v1 on node 127.0.0.1") && up.stdout.contains("replica 1 healthy at http://127.0.0.1:18611/v1"), "\(up)")
        let key = try work.read(".cluster/vllm_key")
        #expect(!up.stdout.contains(key) && !up.stderr.contains(key), "the key is never shown")
        let run = try startTool("dlg-cluster", args: ["run", "--config", work.configPath, "--run-id", runID, "--shards", "2"], env: env, cwd: work.url)
        // Both replicas get traffic.
        let deadline = ContinuousClock.now + .seconds(120)
        while (Self.requests(port: 18610) < 10 || Self.requests(port: 18611) < 10) && run.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let served = (Self.requests(port: 18610), Self.requests(port: 18611))
        #expect(served.0 >= 10 && served.1 >= 10, "requests per replica: \(served)")
        let r = try await run.finish(timeout: .seconds(300))
        try #require(r.status == 0, "\(r)\nshard 0: \(String(((try? work.read("logs/shard-\(runID)-0.log")) ?? "").suffix(1500)))")
        let got = try ClusterTests.dataset(work)
        #expect(got.perLanguage == ["en": 16, "fr": 16], "\(got.perLanguage)")
        #expect(JSONL.duplicates(got.questions).isEmpty)
        let status = try await ClusterTests.cluster(work, "status", env: env)
        #expect(status.stdout.contains("vllm-0: healthy") && status.stdout.contains("vllm-1: healthy"), "\(status)")
        let down = try await ClusterTests.cluster(work, "down", env: env)
        #expect(down.status == 0 && down.stdout.contains("vllm: replicas stopped"), "\(down)")
        let left = try Subprocess.capture(["/usr/bin/pgrep", "-af", "--port 1861"])
        #expect(left.output.isEmpty, "left: \(String(decoding: left.output, as: UTF8.self))")
    }

    /// One of two replicas killed mid-run: the shards' clients leave it out of routing and the run
    /// completes on the other; then `llm.vllm.auto_stop_on_exit` (the default) stops the replica left.
    @Test(.enabled(if: ClusterTests.available, ClusterTests.needs), .timeLimit(.minutes(8)))
    func aReplicaKilledMidRunTheRunCompletesOnTheOther() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let runID = PostgresTestServer.freshRunID("cluster-vllm-kill")
        let work = try WorkDir(label: "cluster-vllm-kill")
        try Self.managed(work, replicas: 2, port: 18630)
        let env = Self.env(work, dsn: dsn, mockArgs: "--latency-ms 100 --duplicate-rate 0.3")
        let up = try await ClusterTests.cluster(work, "up", env: env)
        defer { Task { _ = try? await ClusterTests.cluster(work, "down", env: env) } }
        try #require(up.status == 0, "\(up)")
        let run = try startTool("dlg-cluster", args: ["run", "--config", work.configPath, "--run-id", runID, "--shards", "2"], env: env, cwd: work.url)
        let deadline = ContinuousClock.now + .seconds(120)
        while (Self.requests(port: 18630) < 10 || Self.requests(port: 18631) < 10) && run.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let before = Self.requests(port: 18631)
        try #require(before >= 10 && run.isRunning, "replica 1 served \(before) before the kill")
        let kill = try await runProcess(repoRoot.appendingPathComponent(".venv/bin/python").path,
                                        args: [repoRoot.appendingPathComponent("scripts/cluster_driver.py").path, "vllm-kill", "--replica", "1"],
                                        env: env, cwd: work.url)
        try #require(kill.status == 0, "vllm-kill: \(kill)")
        #expect(Self.requests(port: 18631) == -1, "replica 1 still answers")
        let served0 = Self.requests(port: 18630)
        let r = try await run.finish(timeout: .seconds(300))
        try #require(r.status == 0, "\(r)\nshard 0: \(String(((try? work.read("logs/shard-\(runID)-0.log")) ?? "").suffix(1500)))")
        #expect(r.stderr.contains("vllm: replicas stopped (llm.vllm.auto_stop_on_exit)"), "\(r.stderr)")
        let got = try ClusterTests.dataset(work)
        #expect(got.perLanguage == ["en": 16, "fr": 16], "\(got.perLanguage)")
        #expect(JSONL.duplicates(got.ids).isEmpty && JSONL.duplicates(got.questions).isEmpty)
        // The run went on against replica 0 (it served more after the kill), and auto_stop_on_exit
        // stopped it when the run ended, before any down.
        let llmLog = (try? work.read("logs/llm.log")) ?? ""
        #expect(llmLog.contains("out of routing"), "the dead replica was taken out of routing")
        #expect(served0 > 0)
        let left = try Subprocess.capture(["/usr/bin/pgrep", "-af", "--port 1863"])
        #expect(left.output.isEmpty, "left after the run: \(String(decoding: left.output, as: UTF8.self))")
        let down = try await ClusterTests.cluster(work, "down", env: env)
        #expect(down.status == 0, "\(down)")
    }

    var repoRoot: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    @Test(.enabled(if: ClusterTests.available, ClusterTests.needs), .timeLimit(.minutes(4)))
    func aBadVLLMFlagFailsUpAndLeavesNothingRunning() async throws {
        let dsn = try #require(PostgresTestServer.dsn)
        let work = try WorkDir(label: "cluster-vllm-bad")
        try Self.managed(work, replicas: 2, port: 18620, extra: ", gpu_memory_utilization: 1.5")
        let env = Self.env(work, dsn: dsn, mockArgs: "")
        let up = try await ClusterTests.cluster(work, "up", env: env)
        #expect(up.status == 69, "\(up)")
        #expect(up.stderr.contains("vllm exited with status 2"), "\(up)")
        #expect(try work.read("logs/vllm-0.log").contains("--gpu-memory-utilization must be in (0, 1]"))
        #expect(!work.exists(".cluster/state.json") && !work.exists(".cluster/vllm_key"))
        let left = try Subprocess.capture(["/usr/bin/pgrep", "-af", "--port 1862"])
        #expect(left.output.isEmpty, "left: \(String(decoding: left.output, as: UTF8.self))")
    }
}
}
typealias ClusterVLLMTests = RayClusterSuites.ClusterVLLMTests

/// A worker host the tools cannot run on is refused with the reason: the check `join` makes against the
/// manifest the head published, and every shard against the tools it was shipped.
@Suite struct ClusterHostCheckTests {
    @Test func anotherArchitectureOrAnOlderGlibcIsRefusedWithBothNamed() async throws {
        let python = ToolPaths.packageRoot.appendingPathComponent(".venv/bin/python").path
        try #require(FileManager.default.isExecutableFile(atPath: python), "no \(python): scripts/ray.sh install (make test does it)")
        let work = try WorkDir(label: "hostcheck")
        try work.write("manifest.json", #"{"arch": "riscv64", "glibc": "2.99", "libraries": []}"#)
        let driver = ToolPaths.packageRoot.appendingPathComponent("scripts/cluster_driver.py").path
        let r = try await runProcess(python, args: [driver, "check-host", "--manifest", work.file("manifest.json").path])
        #expect(r.status == 69, "\(r)")
        #expect(r.stdout.contains("the tools were built for riscv64") && r.stdout.contains("the tools need glibc 2.99 or newer"), "\(r)")
        // This host fits the tools it built.
        var u = utsname()
        uname(&u)
        let arch = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        try work.write("ok.json", #"{"arch": ""# + arch + #"", "glibc": "2.17", "libraries": []}"#)
        let ok = try await runProcess(python, args: [driver, "check-host", "--manifest", work.file("ok.json").path])
        #expect(ok.status == 0 && ok.stdout.contains("\"problems\": []"), "\(ok)")
    }
}

/// What `make run` asks dlg-cluster (no Ray or PostgreSQL needed).
@Suite struct ClusterModeTests {
    @Test func modeFollowsRunDistributedEnabled() async throws {
        let work = try WorkDir(label: "cluster-mode")
        let local = try await runTool("dlg-cluster", args: ["mode", "-c", work.configPath], cwd: work.url)
        #expect(local.status == 0 && local.stdout == "local\n", "\(local)")
        try work.setConfig("run.distributed", "{enabled: true}")
        let distributed = try await runTool("dlg-cluster", args: ["mode", "-c", work.configPath], cwd: work.url)
        #expect(distributed.status == 0 && distributed.stdout == "distributed\n", "\(distributed)")
        // A port variable that is not a port: a config error naming it.
        let badPort = try await runTool("dlg-cluster", args: ["up", "-c", work.configPath],
                                        env: ["DLG_CLUSTER_DIR": work.file(".cluster").path, "DLG_CLUSTER_PG_PORT": "99999"], cwd: work.url)
        #expect(badPort.status == 78 && badPort.stderr.contains("DLG_CLUSTER_PG_PORT=99999: not a TCP port"), "\(badPort)")
        // run without up: a clear error, not a hang.
        let run = try await runTool("dlg-cluster", args: ["run", "-c", work.configPath],
                                    env: ["DLG_CLUSTER_DIR": work.file(".cluster").path], cwd: work.url)
        #expect(run.status == 69 && run.stderr.contains("no cluster is up"), "\(run)")
    }
}
