// A config or .env that holds a key where other users may read it gets one warning.

@testable import DlgCore
import Foundation
import Testing

@Suite struct SecretFilesTests {
    func warnings(_ yaml: String, dotenv: String? = nil, mode: mode_t) throws -> [String] {
        let f = try ConfigFixture(yaml, dotenv: dotenv)
        defer { f.cleanup() }
        chmod(f.path, mode)
        if dotenv != nil { chmod(f.dir + "/.env", mode) }
        return try f.load().tree.warnings.filter { $0.contains("chmod 600") }
    }

    @Test func aWorldReadableConfigWithAKeyWarnsOnce() throws {
        let secret = "sk-live-0123456789abcdef"
        let w = try warnings("llm:\n  api_key: \(secret)\n  agents:\n    qa_judge: {api_key: \(secret)x}\n", mode: 0o644)
        #expect(w.count == 1, "\(w)")
        #expect(w.first?.contains("config.yaml: holds a key") == true && w.first?.contains("mode 644") == true, "\(w)")
        #expect(!(w.first ?? "").contains(secret), "the warning must not show the key")
        #expect(try warnings("llm:\n  api_key: \(secret)\n", mode: 0o600).isEmpty)
        #expect(try warnings("llm:\n  api_key: \(secret)\n", mode: 0o640).count == 1, "readable by the group")
    }

    @Test func referencesAndDSNsWithoutPasswordsAreNotSecrets() throws {
        let yaml = "llm:\n  api_key: ${DLGFORGE_API_KEY:-EMPTY}\n  api_key_env: OPENAI_API_KEY\nstore:\n  postgres:\n    dsn: postgresql://localhost/dlgforge\n"
        #expect(try warnings(yaml, mode: 0o644).isEmpty)
        // A placeholder key (examples/demo.yaml's, for a local server that wants none) is not a secret.
        #expect(try warnings("llm:\n  api_key: EMPTY\n", mode: 0o644).isEmpty)
        #expect(try warnings("store:\n  postgres:\n    dsn: postgresql://u:pw@db/x\n", mode: 0o644).count == 1)
    }

    @Test func aReadableDotEnvWithATokenWarns() throws {
        let w = try warnings("run:\n  batch_size: 2\n", dotenv: "HF_TOKEN=hf_abc\nOTHER=1\n", mode: 0o644)
        #expect(w.count == 1 && w.contains { $0.contains("/.env: holds a key") }, "\(w)")
        #expect(try warnings("run:\n  batch_size: 2\n", dotenv: "OUTPUT_DIR=x\n", mode: 0o644).isEmpty)
    }
}
