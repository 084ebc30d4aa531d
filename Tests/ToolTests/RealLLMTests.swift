// End to end against a real LLM server (llama.cpp with SmolLM2-135M on the CPU), which .ci/run starts
// and names in DLG_REAL_LLM_URL (and DLG_REAL_LLM_MODEL). Skipped when the variable is not set.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct RealLLMTests {
    static let url = ProcessInfo.processInfo.environment["DLG_REAL_LLM_URL"]
    static let model = ProcessInfo.processInfo.environment["DLG_REAL_LLM_MODEL"] ?? "smollm2"

    @Test(.enabled(if: url != nil, "DLG_REAL_LLM_URL is not set: `make test` starts the local CPU LLM and sets it (or `make llm-up` and set it yourself)"), .timeLimit(.minutes(20)))
    func aRealModelProducesAJudgedDataset() async throws {
        let url = try #require(Self.url)
        let work = try WorkDir(label: "real-llm")
        defer { work.cleanup() }
        try work.writeConfig("""
        run:
          batch_size: 2
          total_samples: 2
          target_languages: [en]
          n_turns: 2
          question_seed: ci
          seed_topics_path: data/seeds/topics.yaml
        llm:
          base_url: \(url)
          api_key: EMPTY
          model: \(Self.model)
          temperature: 0.7
          max_tokens: 1000
          timeout: 300
          max_retries: 2
        retrieval:
          default_k: 1
          chunk_size: 400
          overlap: 60
          generator_snippets: 1
          mode: prompt
          embedding_model: \(Self.model)
        personas:
          path: personas.yaml
        coverage:
          question_dedup_retries: 5
        judge:
          enabled: true
          mode: online
          granularity: conversation
        """)
        let r = try await runTool("dlg-run", args: ["--config", work.configPath, "--run-id", "real"], cwd: work.url,
                                  timeout: .seconds(1100))
        #expect(r.status == 0, "\(r)")
        let summary = try JSONL.object(r.stdout)
        #expect((summary["dialogues"]?.intValue ?? 0) >= 2, "\(r)")
        // The server was really used: it reported token usage, and it serves the model we asked for.
        #expect((summary["tokens"]?["prompt_tokens"]?.intValue ?? 0) > 0, "\(r)")
        #expect((summary["tokens"]?["completion_tokens"]?.intValue ?? 0) > 0, "\(r)")
        let log = try work.read("logs/llm.log")
        #expect(log.contains("model=\(Self.model) status=200"), "llm.log:\n\(log.suffix(2000))")
        // The model named in the server's own replies.
        #expect(log.contains("served_by=\(Self.model) "), "llm.log:\n\(log.suffix(2000))")
        // Retrieval was hybrid: the index holds one embedding per chunk, from the server.
        let inventory = JSONL.lines(try work.read("knowledge_index/chunk_inventory.jsonl"))
        let vectors = JSONL.lines(try work.read("knowledge_index/embeddings.jsonl"))
        #expect(!inventory.isEmpty && vectors.count == inventory.count)
        // Every output file is valid; every exported turn has an answer, every dialogue a judgement.
        for name in ["synthetic_qa.jsonl", "turns.jsonl", "conversations_sharegpt.jsonl",
                     "conversations_sharegpt_judged.jsonl", "conversations_index.jsonl", "coverage_ledger.jsonl"] {
            for line in JSONL.lines(try work.read("outputs/\(name)")) {
                #expect((try? JSONCodec.parse(line))?.objectValue != nil, "outputs/\(name): \(line.prefix(200))")
            }
        }
        let turns = try work.records("outputs/turns.jsonl")
        #expect(turns.count >= 4, "turns: \(turns.count)")
        for t in turns {
            let answer = t["assistant_message"]?.stringValue ?? ""
            #expect(!answer.isEmpty)
            #expect(t["conversation_judge_score"]?.intValue != nil, "\(t["conversation_judge_score"]?.serialized() ?? "nil")")
        }
        for f in work.files(under: "outputs/conversations") {
            #expect((try? JSONCodec.parse(try work.read("outputs/conversations/\(f)")))?.objectValue != nil)
        }
    }
}
