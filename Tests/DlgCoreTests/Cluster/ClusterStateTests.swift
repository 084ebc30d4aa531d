// The cluster's state file and settings: what `down` reads back, who may read it, what a config means.

@testable import DlgCore
import Foundation
import Testing

@Suite struct ClusterStateTests {
    @Test func theStateFileRoundTripsAndOnlyItsOwnerReadsIt() throws {
        let dir = NSTemporaryDirectory() + "dlg-cluster-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var state = ClusterState(rayAddress: "127.0.0.1:6391", dsn: "postgresql://u:secret@127.0.0.1:5/d", backend: "vllm_managed")
        state.rayStartedDir = dir + "/ray"
        state.pgPort = 54339
        state.vllmEndpoints = ["http://127.0.0.1:18000/v1", "http://127.0.0.1:18001/v1"]
        try state.save(dir: dir)
        let attributes = try FileManager.default.attributesOfItem(atPath: ClusterState.path(dir: dir))
        #expect((attributes[.posixPermissions] as? Int) == 0o600, "the state holds a DSN: owner only")
        #expect(try ClusterState.load(dir: dir) == state)
        ClusterState.remove(dir: dir)
        #expect(try ClusterState.load(dir: dir) == nil, "a second down finds nothing to stop")
    }

    @Test func aFileThatIsNotAStateIsAClearError() throws {
        let dir = NSTemporaryDirectory() + "dlg-cluster-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "not json".write(toFile: ClusterState.path(dir: dir), atomically: true, encoding: .utf8)
        do {
            _ = try ClusterState.load(dir: dir)
            Issue.record("garbage read as a state")
        } catch {
            #expect(error.code == .data && error.message.contains("state.json"), "\(error.message)")
        }
    }

    @Test func aLoopbackRayAddressKeepsTheClientOnLoopbackAndTheTokenInItsFile() {
        var state = ClusterState(rayAddress: "127.0.0.1:6391", dsn: "", backend: "openai")
        state.rayTokenPath = "/tmp/token"
        let env = state.rayEnvironment
        #expect(env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0")
        #expect(env["RAY_AUTH_TOKEN_PATH"] == "/tmp/token" && env["RAY_AUTH_TOKEN"] == nil)
    }

    @Test func settingsReadUpstreamsKeysAndRefuseWhatCannotRun() throws {
        let ok = try ConfigFixture("""
            llm:
              backend: vllm_managed
              vllm: {model: Qwen/Qwen2.5-7B, replicas: 2, host: 0.0.0.0, tensor_parallel_size: 2}
            run:
              distributed: {enabled: true, shards: 6}
            ray: {address: "10.0.0.5:6379"}
            """)
        defer { ok.cleanup() }
        let c = try ClusterSettings(settings: try ok.load())
        #expect(c.rayAddress == "10.0.0.5:6379" && c.shards == 6 && c.vllm.replicas == 2)
        #expect(c.vllm.host == "127.0.0.1", "upstream's 0.0.0.0 default is not taken: replicas stay on loopback")
        #expect(c.vllm.flags.contains("--tensor-parallel-size") && c.vllm.flags.contains("2"))
        #expect(try ClusterSettings(settings: try ok.load(["RAY_ADDRESS": "127.0.0.1:7000"])).rayAddress == "127.0.0.1:7000")

        let bad = try ConfigFixture("""
            llm:
              backend: vllm_managed
              vllm: {replicas: 0, model: m}
            """)
        defer { bad.cleanup() }
        do {
            _ = try ClusterSettings(settings: try bad.load())
            Issue.record("0 replicas accepted")
        } catch let error as DlgError {
            #expect(error.code == .config && error.message.contains("llm.vllm.replicas"), "\(error.message)")
        }
    }
}
