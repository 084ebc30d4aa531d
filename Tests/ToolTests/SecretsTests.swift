// Secrets never leave: with an API key in the config, another in .env and per-agent ones in the
// environment, a Hugging Face token, a Serper key and a DSN password set, every tool is run (its --help,
// a whole pipe and run against the mock, the export and the Hub folder, and the error paths: a server
// that is gone, a database that refuses), and every byte it printed or wrote is searched for them.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("secrets") struct SecretsTests {
    static let configKey = "sk-dlgtest-ConfigKey-7f3a9e"
    static let dotenvKey = "sk-dlgtest-DotEnvKey-c0de11"
    static let envKey = "sk-dlgtest-EnvJudgeKey-55b1"
    static let hfToken = "hf_dlgtestTokenAbc123Zq"
    static let serperKey = "serper-dlgtest-Key-99x"
    static let dsnPassword = "pw-dlgtest-Secret-42q"
    static var all: [String] { [configKey, dotenvKey, envKey, hfToken, serperKey, dsnPassword] }

    /// All a tool printed (a ToolResult's description clips long output).
    static func everything(_ r: ToolResult) -> String { r.stdout + "\n" + r.stderr }

    static let tools = ["dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge", "dlg-export", "dlg-run"]

    @Test func noToolPrintsOrWritesASecret() async throws {
        let work = try smallProject(label: "secrets", total: 2, batch: 2)
        defer { work.cleanup() }
        // The generator's key in the config, the responder's through .env, the judge's in the environment.
        try work.setConfig("llm.api_key", Self.configKey)
        try work.write(".env", """
            LLM_KB_RESPONDER_API_KEY=\(Self.dotenvKey)
            HF_TOKEN=\(Self.hfToken)
            SERPER_API_KEY=\(Self.serperKey)
            DLGFORGE_POSTGRES_DSN=postgresql://dlg:\(Self.dsnPassword)@127.0.0.1:1/cluster
            """)
        let refusedPort = try RefusedPort()
        let dsn = "postgresql://dlg:\(Self.dsnPassword)@127.0.0.1:\(refusedPort.port)/dlgforge"
        var outputs: [String] = []
        try await withMock { mock in
            var env = mock.env
            env["LLM_QA_JUDGE_API_KEY"] = Self.envKey
            env["HUGGINGFACE_HUB_TOKEN"] = Self.hfToken
            // Read only by distributed runs: set, but this single-machine run keeps the file store.
            env["DLGFORGE_POSTGRES_DSN"] = dsn
            for tool in Self.tools {
                outputs.append(Self.everything(try await stage(tool, work, nil, ["--help"], env: env)))
            }
            let b = ToolPaths.binDir.path, c = work.configPath
            let pipe = try await runShell("\(b)/dlg-gen -c \(c) --new 2 --language en --run-id sec | \(b)/dlg-dedup -c \(c) | \(b)/dlg-respond -c \(c) | \(b)/dlg-judge -c \(c) > pass.jsonl",
                                          env: env, cwd: work.url)
            outputs.append(Self.everything(pipe))
            outputs.append(Self.everything(try await stage("dlg-export", work, nil, ["pass.jsonl"], env: env)))
            let run = try await stage("dlg-run", work, nil, ["--run-id", "secrets"], env: env)
            #expect(run.status == 0, "\(run)")
            outputs.append(Self.everything(run))
            outputs.append(Self.everything(try await stage("dlg-export", work, nil, ["--hub"], env: env)))
            // Error paths: the database refuses (the DSN's password must not be echoed) ...
            var pg = env
            pg["STORE_BACKEND"] = "postgres"
            pg["POSTGRES_DSN"] = dsn
            let refused = try await stage("dlg-dedup", work, nil, ["--run-id", "secrets"], stdin: try work.read("pass.jsonl"), env: pg)
            #expect(refused.status != 0, "a refused database must fail the stage\n\(refused)")
            outputs.append(Self.everything(refused))
            // ... and the LLM server is gone.
            var gone = env
            gone["DLGFORGE_BASE_URL"] = "http://127.0.0.1:\(refusedPort.port)/v1"
            let down = try await stage("dlg-run", work, nil, ["--run-id", "gone"], env: gone)
            #expect(down.status == 69, "\(down)")
            outputs.append(Self.everything(down))
        }
        // Every file the tools wrote (the config and .env hold the secrets by design).
        let written = FileManager.default.enumerator(atPath: work.path)?.allObjects.compactMap { $0 as? String } ?? []
        var searched = 0
        for relative in written where !["config.yaml", ".env"].contains(relative) {
            var isDir: ObjCBool = false
            let path = work.path + "/" + relative
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { continue }
            searched += 1
            let text = String(decoding: data, as: UTF8.self)
            for secret in Self.all { #expect(!text.contains(secret), "\(relative) holds a secret (\(secret.prefix(10))...)") }
        }
        #expect(searched >= 10, "too few files written to search: \(written)")
        for (i, text) in outputs.enumerated() {
            for secret in Self.all { #expect(!text.contains(secret), "output \(i) holds a secret (\(secret.prefix(10))...):\n\(text.prefix(2000))") }
        }
    }
}
