import Foundation

/// Semantic dedup's settings as a store uses them: the threshold and where vectors come from.
public final class SemanticDedup: @unchecked Sendable {
    public let threshold: Double
    public let embedder: any QuestionEmbedder

    public init(threshold: Double, embedder: any QuestionEmbedder) {
        self.threshold = threshold
        self.embedder = embedder
    }

    /// The vectors of a batch's normalized questions (nil for an empty one), asked before the store
    /// takes its lock, so no lock is held over a request.
    func vectors(_ norms: [String]) throws(DlgError) -> [[Float]?] {
        let texts = norms.filter { !$0.isEmpty }
        let got = try embedder.vectors(texts)
        var k = 0
        return norms.map { n in
            guard !n.isEmpty else { return nil }
            defer { k += 1 }
            return got[k]
        }
    }

    /// A 64-bit tag of the model, stored beside each vector so vectors of another model are skipped.
    var modelTag: UInt64 { NearDuplicates.fnv(Array(embedder.model.utf8)) }
}

/// A flat index of unit vectors: a question is compared with every indexed one (cosine = dot
/// product). Exact, no recall to tune; its cost is one pass over n x d floats per question, about
/// 40 M multiply-adds at 100,000 questions of 384 dimensions (docs/decisions.md, "Semantic dedup").
struct SemanticIndex<ID: Hashable> {
    let threshold: Double
    private(set) var dimension = 0
    private var ids: [ID] = []
    private var flat: [Float] = []
    private var present = Set<ID>()

    init(threshold: Double) { self.threshold = threshold }

    var count: Int { ids.count }

    /// The most similar indexed vector at or above the threshold that `isLive` still holds (of
    /// equally similar ones, the first indexed); none for a vector of another dimension.
    func match(_ v: [Float], isLive: (ID) -> Bool) -> (id: ID, similarity: Double)? {
        guard v.count == dimension, dimension > 0 else { return nil }
        var best: (n: Int, similarity: Float)?
        let limit = Float(threshold)
        flat.withUnsafeBufferPointer { all in
            v.withUnsafeBufferPointer { q in
                guard let a = all.baseAddress, let b = q.baseAddress else { return }
                for n in 0..<ids.count {
                    let dot = Self.dot(a + n * dimension, b, dimension)
                    // Float rounding may put an identical text a hair below 1 or the threshold.
                    guard dot >= limit - 1e-6, dot > (best?.similarity ?? -2), isLive(ids[n]) else { continue }
                    best = (n, dot)
                }
            }
        }
        return best.map { (ids[$0.n], Double(min(1, $0.similarity))) }
    }

    /// The dot product of two float vectors of `count`, eight lanes at a time: the scan is most of a
    /// check's cost, and the compiler may not vectorize a strict scalar float sum (it may not reorder
    /// the additions). dlg-dedup's CPU per question with 2,000 vectors stored fell from 630-730 us to
    /// 360-450 us (scripts/bench_semantic.py). The lanes' order of addition differs from a scalar
    /// sum's in the last bits only (the threshold allows 1e-6).
    @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var lanes = SIMD8<Float>()
        var k = 0
        while k + 8 <= count {
            lanes += ra.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
                * rb.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            k += 8
        }
        var sum = lanes.sum()
        while k < count {
            sum += a[k] * b[k]
            k += 1
        }
        return sum
    }

    mutating func add(_ id: ID, vector: [Float]) {
        if vector.isEmpty || present.contains(id) { return }
        if dimension == 0 { dimension = vector.count }
        guard vector.count == dimension else { return }
        present.insert(id)
        ids.append(id)
        flat.append(contentsOf: vector)
    }
}
