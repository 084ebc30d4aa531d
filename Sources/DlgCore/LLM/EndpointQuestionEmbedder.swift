import Foundation

/// Embeddings from the configured endpoint's `/v1/embeddings` through `LLMClient.embed`, the client
/// hybrid retrieval uses (its response cache included), with `retrieval.embedding_model` on
/// kb_responder's first endpoint. Each text is asked once per process: a question rejected in one
/// batch and seen again, or a text already measured, costs no request.
public final class EndpointQuestionEmbedder: QuestionEmbedder, @unchecked Sendable {
    public let model: String
    let client: LLMClient
    let endpoint: Endpoint
    private let lock = NSLock()
    private var known: [String: [Float]] = [:]
    /// Texts per request (the server's batch, and a bound on the request's size).
    static let batch = 64
    /// The in-process cache's bound: beyond it the cache starts again (a run's texts are mostly new).
    static let cacheLimit = 50_000
    /// Requests sent so far (for tests and the log).
    public private(set) var requests = 0

    public init(client: LLMClient, endpoint: Endpoint, model: String) {
        self.client = client
        self.endpoint = endpoint
        self.model = model
    }

    /// `retrieval.embedding_model` on kb_responder's first endpoint; nil when either is missing.
    public static func forRetrieval(_ settings: Settings) -> EndpointQuestionEmbedder? {
        let model = settings.retrieval.embeddingModel
        guard !model.isEmpty, let endpoint = settings.agent(.kbResponder).endpoints.first else { return nil }
        return EndpointQuestionEmbedder(client: LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer),
                                        endpoint: endpoint, model: model)
    }

    /// Embeddings from a server of the user's choosing (`dlg-export metrics --embeddings-url`), with
    /// no API key: the configured keys go only to their own endpoints. A URL that is not http(s) with
    /// a host is a usage error (64).
    public static func at(_ url: String, model: String, settings: Settings) throws(DlgError) -> EndpointQuestionEmbedder {
        guard PeerURL(url) != nil else {
            throw DlgError(.usage, "--embeddings-url: \"\(Redact.text(url))\" is not an http(s) URL with a host")
        }
        guard !model.isEmpty else {
            throw DlgError(.usage, "--embeddings-url needs a model: give --embedding-model or set retrieval.embedding_model")
        }
        let endpoint = Endpoint(name: "embeddings", baseURL: url, apiKey: "", weight: 1, maxInFlight: 0, timeout: nil, model: model)
        return EndpointQuestionEmbedder(client: LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer),
                                        endpoint: endpoint, model: model)
    }

    /// The embedder a config means: `retrieval.embedding_model` on kb_responder's first endpoint.
    public convenience init(settings: Settings) throws(DlgError) {
        guard let endpoint = settings.agent(.kbResponder).endpoints.first else {
            throw DlgError.config("coverage.semantic_dedup_threshold is set but no llm endpoint serves /v1/embeddings")
        }
        self.init(client: LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer), endpoint: endpoint,
                  model: settings.semanticDedup.model)
    }

    /// Waits on the calling thread: the dedup store's own, never one of the cooperative pool.
    public func vectors(_ texts: [String]) throws(DlgError) -> [[Float]] {
        for part in batches(missing(texts)) { remember(part, try fetchWaiting(part)) }
        // nil only when the cache started again between asking and reading: ask once more.
        guard let found = cached(texts) else { return try vectors(texts) }
        return found
    }

    /// The same, awaited: for async code (topic diversity at an export's end), which holds no thread meanwhile.
    public func vectors(_ texts: [String]) async throws(DlgError) -> [[Float]] {
        for part in batches(missing(texts)) { remember(part, try await fetch(part)) }
        guard let found = cached(texts) else { return try await vectors(texts) }
        return found
    }

    /// The texts not yet known, each once, in order.
    private func missing(_ texts: [String]) -> [String] {
        lock.withLock {
            var asked = Set<String>(), missing: [String] = []
            for t in texts where known[t] == nil && asked.insert(t).inserted { missing.append(t) }
            return missing
        }
    }

    private func batches(_ texts: [String]) -> [[String]] {
        stride(from: 0, to: texts.count, by: Self.batch).map { Array(texts[$0..<min($0 + Self.batch, texts.count)]) }
    }

    /// One request's vectors kept, counted.
    private func remember(_ texts: [String], _ vectors: [[Float]]) {
        lock.withLock {
            if known.count + vectors.count > Self.cacheLimit { known.removeAll(keepingCapacity: true) }
            for (t, v) in zip(texts, vectors) { known[t] = v }
            requests += 1
        }
    }

    /// Every text's vector, or nil when one is missing.
    private func cached(_ texts: [String]) -> [[Float]]? {
        let found = lock.withLock { texts.map { known[$0] } }
        var out: [[Float]] = []
        for v in found {
            guard let v else { return nil }
            out.append(v)
        }
        return out
    }

    /// One request.
    private func fetch(_ texts: [String]) async throws(DlgError) -> [[Float]] {
        let rows: [[Double]]
        do throws(LLMFailure) {
            rows = try await client.embed(endpoint: endpoint, model: model, texts: texts)
        } catch {
            throw DlgError.unavailable("embeddings from \(endpoint.name) (\(model)): \(error.message)")
        }
        guard rows.count == texts.count, let dim = rows.first?.count, dim > 0, rows.allSatisfy({ $0.count == dim }) else {
            throw DlgError.unavailable("embeddings from \(endpoint.name) (\(model)): the reply has no vector of one size per text")
        }
        return rows.map(Self.unit)
    }

    /// One request, waited for on this (non-pool) thread while it runs on the pool.
    private func fetchWaiting(_ texts: [String]) throws(DlgError) -> [[Float]] {
        final class Box: @unchecked Sendable { var result: Result<[[Float]], DlgError> = .success([]) }
        let box = Box(), done = DispatchSemaphore(value: 0)
        Task.detached { [self] in
            do throws(DlgError) { box.result = .success(try await fetch(texts)) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result.get()
    }

    /// `v` scaled to length 1 (a zero vector stays zero and matches nothing).
    public static func unit(_ v: [Double]) -> [Float] {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return n > 0 ? v.map { Float($0 / n) } : v.map { Float($0) }
    }
}

extension SemanticDedup {
    /// `coverage.semantic_dedup_threshold` with the endpoint's embeddings (nil when off). Here, above
    /// the store, because the store knows embeddings only as a `QuestionEmbedder`.
    public static func configured(_ settings: Settings) throws(DlgError) -> SemanticDedup? {
        guard settings.semanticDedup.enabled else { return nil }
        return SemanticDedup(threshold: settings.semanticDedup.threshold, embedder: try EndpointQuestionEmbedder(settings: settings))
    }
}
