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
/// A shingle is kept as a 32-bit hash (FNV-1a, mixed, the same in every process), so an index holds
/// 4 bytes per word; two different shingles of a 15- and a 17-word question share one with
/// probability about 15 x 17 / 2^32 = 6e-8, so the Jaccard of the hash sets is, but for that, the
/// Jaccard of the shingle sets.
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

    /// The shingle set of a question, as 32-bit hashes (in a UInt64 each).
    public static func shingles(_ text: String) -> Set<UInt64> {
        var out = Set<UInt64>()
        var word: [UInt8] = []            // a run of spaced-script letters and digits, UTF-8
        var run: [Unicode.Scalar] = []    // a run of unspaced-script characters
        func endWord() {
            if !word.isEmpty { out.insert(shingleHash(word)); word.removeAll(keepingCapacity: true) }
        }
        func endRun() {
            if run.count == 1 {
                out.insert(shingleHash(Array(String(run[0]).utf8)))
            } else if run.count > 1 {
                for i in 0..<(run.count - 1) {
                    var s = String.UnicodeScalarView()
                    s.append(run[i])
                    s.append(run[i + 1])
                    out.insert(shingleHash(Array(String(s).utf8)))
                }
            }
            run.removeAll(keepingCapacity: true)
        }
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                // The common case without Unicode tables: letters lowercased, digits kept, the rest separates.
                let b = UInt8(scalar.value)
                if (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) {
                    endRun()
                    word.append(b)
                } else if b >= 0x41 && b <= 0x5A {
                    endRun()
                    word.append(b + 0x20)
                } else {
                    endWord()
                    endRun()
                }
            } else if isUnspaced(scalar) {
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
    static func jaccard(sorted a: some RandomAccessCollection<UInt32>, _ b: some RandomAccessCollection<UInt32>) -> Double {
        if a.isEmpty || b.isEmpty { return 0 }
        var i = a.startIndex, k = b.startIndex, shared = 0
        while i < a.endIndex && k < b.endIndex {
            if a[i] == b[k] {
                shared += 1
                a.formIndex(after: &i)
                b.formIndex(after: &k)
            } else if a[i] < b[k] { a.formIndex(after: &i) } else { b.formIndex(after: &k) }
        }
        return Double(shared) / Double(a.count + b.count - shared)
    }

    /// The MinHash signature: for each of the 128 hash functions (the shingle's hash mixed with a
    /// fixed seed), the least value over the set.
    public static func signature(_ set: some Sequence<UInt64>) -> [UInt64] {
        var sig = [UInt64](repeating: .max, count: hashCount)
        seeds.withUnsafeBufferPointer { seed in
            sig.withUnsafeMutableBufferPointer { out in
                for x in set {
                    for i in 0..<hashCount {
                        let h = mix(x ^ seed[i])
                        if h < out[i] { out[i] = h }
                    }
                }
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

    /// A shingle's 32-bit hash: FNV-1a over its UTF-8, mixed, the high half.
    @inline(__always) static func shingleHash(_ bytes: [UInt8]) -> UInt64 { mix(fnv(bytes)) >> 32 }

    static func fnv(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
