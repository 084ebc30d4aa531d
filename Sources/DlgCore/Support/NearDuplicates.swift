import Foundation

/// Near-duplicate questions: shingle sets, their Jaccard similarity, and MinHash with LSH bands to
/// find the few accepted questions worth comparing (docs/decisions.md, "Near-duplicate dedup").
///
/// Shingles: the question's tokens are lowercase runs of letters and digits (punctuation and
/// spacing never count, so "What is X?" and "what is x" are the same set). A run written in a
/// script without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) gives
/// its character bigrams instead (a one-character run gives the character). Word unigrams, not
/// bigrams: a 15-word question with two words added keeps 15/17 = 0.88 of its set, while its word
/// bigrams would keep at most 14/16 = 0.875 and, with the words inserted in the middle, 12/18 = 0.67.
/// A shingle is kept as a 64-bit hash (FNV-1a, the same in every process); two different shingles of
/// a pair share one with probability about 2^-58 at 40 shingles, so the Jaccard of the hash sets is
/// the Jaccard of the shingle sets.
public enum NearDuplicates {
    /// MinHash values per question.
    public static let hashCount = 128

    /// The banding for a threshold: `rows` MinHash values per band, `bands` bands. A pair at
    /// Jaccard J becomes a candidate with probability 1 - (1 - J^rows)^bands; `rows` is the largest
    /// whose recall at the threshold is at least 99.5% with `bands` = 128 / rows (fewer false
    /// candidates the larger it is). At 0.8: rows 6, bands 21, recall 99.83%.
    public struct Banding: Sendable, Equatable {
        public let rows: Int
        public let bands: Int

        public init(threshold: Double) {
            var best = (rows: 1, bands: NearDuplicates.hashCount)
            for r in 1...16 {
                let b = NearDuplicates.hashCount / r
                if Self.recall(threshold, rows: r, bands: b) >= 0.995 { best = (r, b) }
            }
            rows = best.rows
            bands = best.bands
        }

        /// The probability that a pair at Jaccard `j` shares at least one band.
        public static func recall(_ j: Double, rows: Int, bands: Int) -> Double {
            1 - pow(1 - pow(j, Double(rows)), Double(bands))
        }

        public func recall(_ j: Double) -> Double { Self.recall(j, rows: rows, bands: bands) }
    }

    /// The shingle set of a question, as 64-bit hashes.
    public static func shingles(_ text: String) -> Set<UInt64> {
        var out = Set<UInt64>()
        var word: [UInt8] = []            // a run of spaced-script letters and digits, UTF-8
        var run: [Unicode.Scalar] = []    // a run of unspaced-script characters
        func endWord() {
            if !word.isEmpty { out.insert(fnv(word)); word.removeAll(keepingCapacity: true) }
        }
        func endRun() {
            if run.count == 1 {
                out.insert(fnv(Array(String(run[0]).utf8)))
            } else if run.count > 1 {
                for i in 0..<(run.count - 1) {
                    var s = String.UnicodeScalarView()
                    s.append(run[i])
                    s.append(run[i + 1])
                    out.insert(fnv(Array(String(s).utf8)))
                }
            }
            run.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            if isUnspaced(scalar) {
                endWord()
                run.append(scalar)
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                endRun()
                for lower in scalar.properties.lowercaseMapping.unicodeScalars {
                    word.append(contentsOf: Array(String(lower).utf8))
                }
            } else {
                endWord()
                endRun()
            }
        }
        endWord()
        endRun()
        return out
    }

    /// Scripts written without spaces between words.
    static func isUnspaced(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3FFFF: return true  // Han
        case 0x3040...0x309F, 0x30A0...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F: return true    // kana
        case 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF: return true  // Thai, Lao, Myanmar, Khmer
        default: return false
        }
    }

    /// Jaccard similarity of two shingle sets (two empty sets: 0, never a duplicate).
    public static func jaccard(_ a: Set<UInt64>, _ b: Set<UInt64>) -> Double {
        if a.isEmpty || b.isEmpty { return 0 }
        let (small, large) = a.count <= b.count ? (a, b) : (b, a)
        var shared = 0
        for x in small where large.contains(x) { shared += 1 }
        return Double(shared) / Double(a.count + b.count - shared)
    }

    /// Jaccard similarity of two sorted, duplicate-free shingle arrays.
    static func jaccard(sorted a: [UInt64], _ b: [UInt64]) -> Double {
        if a.isEmpty || b.isEmpty { return 0 }
        var i = 0, k = 0, shared = 0
        while i < a.count && k < b.count {
            if a[i] == b[k] { shared += 1; i += 1; k += 1 } else if a[i] < b[k] { i += 1 } else { k += 1 }
        }
        return Double(shared) / Double(a.count + b.count - shared)
    }

    /// The MinHash signature: for each of the 128 hash functions (the shingle's hash mixed with a
    /// fixed seed), the least value over the set.
    public static func signature(_ set: Set<UInt64>) -> [UInt64] {
        var sig = [UInt64](repeating: .max, count: hashCount)
        for x in set {
            for i in 0..<hashCount {
                let h = mix(x ^ seeds[i])
                if h < sig[i] { sig[i] = h }
            }
        }
        return sig
    }

    /// The band hashes of a signature: band i hashes its `rows` values together with i and the
    /// banding, so bands of different bandings never match each other.
    public static func bands(_ signature: [UInt64], _ banding: Banding) -> [UInt64] {
        (0..<banding.bands).map { i in
            var h = mix(UInt64(banding.rows) << 32 | UInt64(i))
            for k in 0..<banding.rows { h = mix(h ^ signature[i * banding.rows + k]) }
            return h
        }
    }

    /// The band hashes of a question's shingle set (none for an empty set).
    public static func bands(of set: Set<UInt64>, _ banding: Banding) -> [UInt64] {
        set.isEmpty ? [] : bands(signature(set), banding)
    }

    static let seeds: [UInt64] = {
        var state: UInt64 = 0x6A09_E667_F3BC_C908
        return (0..<hashCount).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            return mix(state)
        }
    }()

    /// splitmix64's finalizer: a bijection on 64 bits that spreads every input bit.
    @inline(__always) static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

/// The near-duplicate side of a store: each accepted question's shingle set and band hashes.
/// Confirmation is on the sets themselves, so a band match alone never rejects a question.
/// Compact, since the file store holds one per accepted question: a set is a sorted array (half a
/// Set's memory) and a band hash points to a chain of postings, two Int32s each, instead of an
/// array per band hash: about 0.7 KB a question at 21 bands and 15 words (counted from the tables'
/// layouts, not measured).
struct NearIndex<ID: Hashable> {
    let threshold: Double
    let banding: NearDuplicates.Banding
    private var ids: [ID] = []
    private var sets: [[UInt64]] = []
    private var number: [ID: Int32] = [:]
    /// Band hash -> its latest posting; `owner[p]` is a posting's question, `next[p]` the posting
    /// before it with the same band hash (-1: none).
    private var head: [UInt64: Int32] = [:]
    private var owner: [Int32] = []
    private var next: [Int32] = []

    init(threshold: Double) {
        self.threshold = threshold
        banding = NearDuplicates.Banding(threshold: threshold)
    }

    /// The most similar indexed question at or above the threshold that `isLive` still holds (of
    /// equally similar ones, the first indexed).
    func match(_ set: Set<UInt64>, bands: [UInt64], isLive: (ID) -> Bool) -> (id: ID, similarity: Double)? {
        if set.isEmpty { return nil }
        let sorted = set.sorted()
        var seen = Set<Int32>()
        var best: (n: Int32, similarity: Double)?
        for b in bands {
            var p = head[b] ?? -1
            while p >= 0 {
                let n = owner[Int(p)]
                p = next[Int(p)]
                guard seen.insert(n).inserted, isLive(ids[Int(n)]) else { continue }
                let j = NearDuplicates.jaccard(sorted: sorted, sets[Int(n)])
                guard j >= threshold else { continue }
                if let cur = best, j < cur.similarity || (j == cur.similarity && n > cur.n) { continue }
                best = (n, j)
            }
        }
        return best.map { (ids[Int($0.n)], $0.similarity) }
    }

    mutating func add(_ id: ID, set: Set<UInt64>, bands: [UInt64]) {
        if set.isEmpty || number[id] != nil { return }
        let n = Int32(ids.count)
        ids.append(id)
        sets.append(set.sorted())
        number[id] = n
        for b in bands {
            owner.append(n)
            next.append(head[b] ?? -1)
            head[b] = Int32(owner.count - 1)
        }
    }
}
