// What dlg-cluster ships to worker hosts of the project: the resolved config with every secret a
// placeholder, the paths it names copied in, and a shard reading it back gets the driver's settings.

@testable import DlgCore
import Foundation
import Testing

@Suite struct ClusterProjectTests {
    static func project() throws -> String {
        let dir = NSTemporaryDirectory() + "dlg-project-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/knowledge_index", withIntermediateDirectories: true)
        try "- {name: Ana, description: a nurse}\n".write(toFile: dir + "/people.yaml", atomically: true, encoding: .utf8)
        try "topics: [{topic: tides, questions: [why?]}]\n".write(toFile: dir + "/data/seeds.yaml", atomically: true, encoding: .utf8)
        try "{}\n".write(toFile: dir + "/knowledge_index/chunk_inventory.jsonl", atomically: true, encoding: .utf8)
        try """
        run: {seed_topics_path: data/seeds.yaml, distributed: {enabled: true, shards: 4}}
        llm: {base_url: "http://10.0.0.9:8000/v1", api_key: sk-literal-in-the-file-0001, model: m,
              routing: {endpoints: [{name: a, base_url: "http://10.0.0.9:8000/v1", api_key: hf_fromthefile0002}]}}
        personas: {enabled: true, path: people.yaml}
        store: {backend: postgres, postgres: {dsn: "${MY_DSN}"}}
        saving: {output_dir: /somewhere/absolute/outputs}
        """.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func theShippedConfigHoldsPlaceholdersAndTheShardReadsTheSameSettings() throws {
        let dir = try Self.project()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["MY_DSN": "postgresql://dlgforge:pw-0003@10.0.0.1:5432/dlgforge?sslmode=require", "PATH": "/usr/bin"]
        let settings = try Settings.load(path: dir + "/config.yaml", environment: env)
        #expect(settings.tree.unknownKeys.isEmpty, "run.distributed.shards is ours and known: \(settings.tree.unknownKeys)")
        let out = dir + "/ship"
        let project = try ClusterProject.prepare(settings: settings, in: out)
        let text = try String(contentsOfFile: out + "/config.yaml", encoding: .utf8)
        for secret in ["sk-literal-in-the-file-0001", "hf_fromthefile0002", "pw-0003"] {
            #expect(!text.contains(secret), "\(secret) is in the shipped file")
            #expect(project.secrets.values.contains { $0.contains(secret) }, "\(secret) is not in the job's environment")
        }
        #expect(project.secrets.keys.allSatisfy { $0.hasPrefix("DLG_SECRET_") })
        // The files the config names are in the folder, under the names the shipped config gives them.
        for name in ["personas.yaml", "seed_topics.yaml", "knowledge_index/chunk_inventory.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name) not shipped")
        }
        // A shard loads it with the job's environment: the same keys, DSN (sslmode kept) and model.
        let shard = try Settings.load(path: out + "/config.yaml", environment: project.secrets.merging(["PATH": "/usr/bin"]) { a, _ in a })
        #expect(shard.agent(.qaGenerator).endpoints.map(\.apiKey) == settings.agent(.qaGenerator).endpoints.map(\.apiKey))
        #expect(shard.agent(.qaGenerator).endpoints.map(\.baseURL) == ["http://10.0.0.9:8000/v1"])
        #expect(shard.store.dsn == env["MY_DSN"])
        #expect(shard.personasPath == "personas.yaml" && shard.tree.resolvePath(shard.personasPath) == out + "/personas.yaml")
        #expect(shard.outputDir == out + "/outputs", "a shard writes in its own folder")
        #expect(!shard.run.distributedEnabled, "a shard does not start a cluster of its own")
        #expect(shard.tree.warnings.isEmpty && shard.tree.unknownKeys.isEmpty,
                "\(shard.tree.warnings) \(shard.tree.unknownKeys)")
    }

    @Test func secretKeysAreKnownByTheirNames() {
        for key in ["api_key", "token", "password", "dsn", "hf_token", "serper_api_key", "api_key_secret"] {
            #expect(ClusterProject.isSecretKey(key), "\(key)")
        }
        for key in ["api_key_env", "model", "base_url", "max_tokens", "tokens_per_minute"] {
            #expect(!ClusterProject.isSecretKey(key), "\(key)")
        }
    }
}
