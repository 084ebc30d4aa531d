// dlg-dedup with coverage.semantic_dedup_threshold against the real all-MiniLM-L6-v2
// (scripts/embed_server.py, DLG_EMBED_URL).

import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-dedup semantic") struct SemanticDedupToolTests {
    /// SEMANTIC_DEDUP_THRESHOLD 0.9 with retrieval.embedding_model on the configured endpoint: the
    /// paraphrase is rejected and logged as semantic_duplicate with the matched question_hash and the
    /// cosine; the unrelated question is kept; without the variable (0, the default) all three are kept.
    @Test func paraphrasesAreRejectedAndLogged() async throws {
        let url = try EmbedTestServer.require()
        let work = try WorkDir(copyExamples: false, label: "semantic")
        // The chat model is never asked: dlg-dedup sends the endpoint only embeddings.
        try work.writeConfig("""
            run:
              run_id: sem
            llm:
              model: chat
              base_url: \(url)
            retrieval:
              embedding_model: \(EmbedTestServer.model)

            """)
        let input = JSONL.text(pendingRecords(["How do I reset my password?", "What's the way to reset my password?",
                                               "Which tide gauges report water levels hourly?"], prefix: "s"))
        let off = try await stage("dlg-dedup", work, nil, ["--ledger", work.file("off.jsonl").path], stdin: input)
        try #require(off.status == 0, "\(off)")
        #expect(try DedupTests.states(off) == ["accepted", "accepted", "accepted"], "\(off)")

        let r = try await stage("dlg-dedup", work, nil, stdin: input, env: ["SEMANTIC_DEDUP_THRESHOLD": "0.9"])
        try #require(r.status == 0, "\(r)")
        #expect(try DedupTests.states(r) == ["accepted", "rejected", "accepted"], "\(r)")
        let hash = try #require(try work.records("outputs/coverage_ledger.jsonl").first?["question_hash"]?.stringValue)
        let log = try work.read("logs/run.log")
        #expect(log.contains("semantic_duplicate matched=\(hash) similarity=0.9"), "\(log)")
        #expect(FileManager.default.fileExists(atPath: work.file("outputs/coverage_ledger.vectors").path))
    }

    /// A threshold with no embedding model to compare questions with is a config error (78).
    @Test func aThresholdWithoutAnEmbeddingModelIsAConfigError() async throws {
        let work = try WorkDir(copyExamples: false, label: "semantic-bad")
        try work.writeConfig("coverage:\n  semantic_dedup_threshold: 0.9\n")
        let r = try await stage("dlg-dedup", work, nil, stdin: "")
        #expect(r.status == 78 && r.stderr.contains("coverage.semantic_dedup_threshold")
                && r.stderr.contains("retrieval.embedding_model"), "\(r)")
        let range = try await stage("dlg-dedup", work, nil, stdin: "", env: ["SEMANTIC_DEDUP_THRESHOLD": "1.5"])
        #expect(range.status == 78 && range.stderr.contains("coverage.semantic_dedup_threshold"), "\(range)")
    }
}
