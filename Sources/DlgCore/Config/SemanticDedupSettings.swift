import Foundation

/// `coverage.semantic_dedup_threshold` (ours; SEMANTIC_DEDUP_THRESHOLD): the cosine similarity of two
/// questions' embeddings at or above which the later one is a semantic duplicate (0: off, the
/// default). The embeddings come from `retrieval.embedding_model` on kb_responder's endpoint, the
/// model and client hybrid retrieval uses, so a threshold without an embedding model is a config error.
public struct SemanticDedupSettings: Sendable {
    public var threshold: Double
    /// The embedding model (`retrieval.embedding_model`); empty when none is configured.
    public var model: String

    public var enabled: Bool { threshold > 0 }

    public init(threshold: Double, model: String) {
        self.threshold = threshold
        self.model = model
    }

    static func read(_ r: ConfigReader, embeddingModel: String) throws(DlgError) -> SemanticDedupSettings {
        let key = "coverage.semantic_dedup_threshold"
        let threshold = try r.double(key, min: 0, max: 1)
        if threshold > 0 && embeddingModel.isEmpty {
            throw r.fail(key, .double(threshold),
                         "0 (off) unless retrieval.embedding_model names the model whose /v1/embeddings compares questions")
        }
        return SemanticDedupSettings(threshold: threshold, model: embeddingModel)
    }
}
