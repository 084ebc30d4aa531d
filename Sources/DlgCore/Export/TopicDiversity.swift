import Foundation

/// `metrics.json`'s topic diversity: the mean pairwise cosine distance of the questions' embeddings,
/// overall and per language, over a sample of at most `sampleLimit` questions (docs/metrics.md).
///
/// The sample is deterministic and independent of file order: the questions whose hash (SHA-256 of
/// conversation id, turn index and text) is smallest, kept as records are added (bottom-k sampling),
/// so the same dataset always gives the same figure. With unit vectors v_1..v_n, the sum of the
/// cosines over ordered pairs i != j is |Σ v|² - n, so the mean distance over the n(n-1)/2 pairs is
/// 1 - (|Σ v|² - n) / (n(n-1)): one pass over the vectors, not n² dot products.
public struct TopicDiversity: Sendable {
    public static let sampleLimit = 2000

    struct Sample: Sendable {
        var seen = 0
        /// (hash, question), at most `sampleLimit`, the largest hash first out.
        var kept: [(hash: UInt64, text: String)] = []
        var largest: UInt64 { kept.last?.hash ?? .max }

        mutating func offer(_ hash: UInt64, _ text: String) {
            seen += 1
            if kept.count == TopicDiversity.sampleLimit && hash >= largest { return }
            let at = kept.firstIndex { $0.hash > hash } ?? kept.count
            kept.insert((hash, text), at: at)
            if kept.count > TopicDiversity.sampleLimit { kept.removeLast() }
        }
    }

    var overall = Sample()
    var languages: [String: Sample] = [:]

    public init() {}

    /// Offers each turn's question of a completed dialogue to the samples.
    public mutating func add(_ record: JSONObject) {
        let id = Record.id(record), language = Record.language(record)
        for (i, turn) in Record.turns(record).enumerated() {
            guard let q = turn["user_message"]?.stringValue, !Text.normalized(q).isEmpty else { continue }
            let w = SHA256.words(Array("\(id)#\(i)#\(q)".utf8))
            let hash = UInt64(w[0]) << 32 | UInt64(w[1])
            overall.offer(hash, q)
            languages[language, default: Sample()].offer(hash, q)
        }
    }

    /// Each scope's figure (overall, then by language) as `metrics.json` carries it; with no embedder
    /// (no `retrieval.embedding_model`) or when the embeddings cannot be had, null with the reason.
    public func json(embedder: (any QuestionEmbedder)?) async -> (overall: JSON, languages: [String: JSON]) {
        let scopes = [("", overall)] + languages.keys.sorted().map { ($0, languages[$0]!) }
        var figures: [String: JSON] = [:]
        var failure: String?
        if let embedder {
            do {
                var texts: [String] = []
                var unique = Set<String>()
                for (_, s) in scopes { for k in s.kept where unique.insert(k.text).inserted { texts.append(k.text) } }
                let vectors = try await embedder.vectors(texts)
                let of = Dictionary(zip(texts, vectors), uniquingKeysWith: { a, _ in a })
                for (name, s) in scopes {
                    figures[name] = Self.scopeJSON(s, value: Self.meanDistance(s.kept.compactMap { of[$0.text] }),
                                                   model: embedder.model, reason: nil)
                }
            } catch { failure = "the embeddings could not be had: \(error.message)" }
        }
        let reason = failure ?? "no embedding model is configured (retrieval.embedding_model)"
        func figure(_ name: String, _ s: Sample) -> JSON {
            figures[name] ?? Self.scopeJSON(s, value: nil, model: embedder?.model, reason: reason)
        }
        return (figure("", overall), Dictionary(uniqueKeysWithValues: languages.map { ($0.key, figure($0.key, $0.value)) }))
    }

    static func scopeJSON(_ s: Sample, value: Double?, model: String?, reason: String?) -> JSON {
        var o: [(String, JSON)] = [
            ("value", value.map { .double($0) } ?? .null),
            ("questions", .int(s.seen)), ("sampled", .int(s.kept.count)),
            ("model", model.map { .string($0) } ?? .null),
        ]
        if value == nil { o.append(("reason", .string(reason ?? "fewer than two questions"))) }
        return .object(JSONObject(o))
    }

    /// The mean cosine distance over all pairs of unit vectors (nil for fewer than two).
    static func meanDistance(_ vectors: [[Float]]) -> Double? {
        let n = vectors.count
        guard n >= 2, let d = vectors.first?.count else { return nil }
        var sum = [Double](repeating: 0, count: d)
        var norms = 0.0
        for v in vectors where v.count == d {
            for k in 0..<d { sum[k] += Double(v[k]) }
            norms += v.reduce(0) { $0 + Double($1) * Double($1) }
        }
        let pairSum = sum.reduce(0) { $0 + $1 * $1 } - norms
        return 1 - pairSum / Double(n * (n - 1))
    }

    /// `metrics.json` with each scope's `topic_diversity` added last.
    static func inserting(_ figures: (overall: JSON, languages: [String: JSON]), into metrics: JSON) -> JSON {
        guard var top = metrics.objectValue else { return metrics }
        if var scope = top["overall"]?.objectValue {
            scope["topic_diversity"] = figures.overall
            top["overall"] = .object(scope)
        }
        if var langs = top["languages"]?.objectValue {
            for (name, value) in langs.pairs {
                guard var scope = value.objectValue else { continue }
                scope["topic_diversity"] = figures.languages[name] ?? .null
                langs[name] = .object(scope)
            }
            top["languages"] = .object(langs)
        }
        return .object(top)
    }
}
