// Hybrid retrieval: embeddings from the endpoint's /v1/embeddings, persisted with the index, and a
// change of embedding model rebuilds the index on its own.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct EmbeddingTests {
    @Test func changingTheEmbeddingModelRebuildsTheIndex() async throws {
        let work = try WorkDir(label: "embeddings")
        defer { work.cleanup() }
        try work.setConfig("run.target_languages", "[en]")
        try work.setConfig("retrieval.embedding_model", "embed-a")
        try await withMock(["--seed", "3"]) { mock in
            let first = try await stage("dlg-gen", work, mock, ["--new", "1", "--language", "en", "--run-id", "emb"])
            #expect(first.status == 0, "\(first)")
            let fingerprintA = try work.read("knowledge_index/knowledge_fingerprint.json")
            let chunks = JSONL.lines(try work.read("knowledge_index/chunk_inventory.jsonl")).count
            let vectors = JSONL.lines(try work.read("knowledge_index/embeddings.jsonl"))
            #expect(chunks > 0 && vectors.count == chunks)
            #expect((try JSONCodec.parse(vectors[0])).arrayValue?.count == 64)

            // Same settings: reused, not rebuilt (no new embeddings requests).
            let before = try await mock.stats()["embeddings"]?.intValue ?? 0
            let again = try await stage("dlg-respond", work, mock, stdin: first.stdout)
            #expect(again.status == 0, "\(again)")
            let afterReuse = try await mock.stats()["embeddings"]?.intValue ?? 0
            #expect(try work.read("knowledge_index/knowledge_fingerprint.json") == fingerprintA)

            // Another embedding model: the fingerprint changes and the chunks are embedded again.
            try work.setConfig("retrieval.embedding_model", "embed-b")
            let rebuilt = try await stage("dlg-respond", work, mock, stdin: first.stdout)
            #expect(rebuilt.status == 0, "\(rebuilt)")
            #expect(try work.read("knowledge_index/knowledge_fingerprint.json") != fingerprintA)
            let afterRebuild = try await mock.stats()["embeddings"]?.intValue ?? 0
            #expect(afterRebuild > afterReuse, "embeddings requests: \(before) -> \(afterReuse) -> \(afterRebuild)")
        }
    }
}
