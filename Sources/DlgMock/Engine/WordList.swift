// The words of a prompt as spans of one lowercased byte buffer: scanning builds no String per word, and
// stopwords and repeats are found by hashing bytes (a String and two `Set<String>` look-ups per word were
// a sixth of the mock's CPU). Strings are made only for the words a reply uses.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lowercased words of a text, in order of appearance (see `TextTools.words` for what a word is).
struct WordList {
    /// The accepted words' bytes, one after the other.
    private var bytes: [UInt8] = []
    /// Word `i` is `bytes[bounds[i]..<bounds[i + 1]]`.
    private var bounds: [Int] = [0]
    /// Whether word `i` is all ASCII (then byte equality is String equality).
    private var ascii: [Bool] = []

    var count: Int { ascii.count }

    /// - Parameters:
    ///   - minLength: fewer bytes and the word is skipped (so are words above 40 bytes and digit-only words).
    ///   - filter: skip `TextTools.stopwords`.
    ///   - distinct: skip a word equal (as a String) to an earlier accepted one.
    ///   - limit: stop after this many words.
    ///   - scanBytes: look at no more of `text`.
    init(_ text: String, minLength: Int = 1, filter: Bool = false, distinct: Bool = false, limit: Int = .max, scanBytes: Int = 65536) {
        var text = text
        text.withUTF8 { utf8 in
            scan(utf8, minLength: minLength, filter: filter, distinct: distinct, limit: limit, scanBytes: scanBytes)
        }
    }

    private mutating func scan(_ utf8: UnsafeBufferPointer<UInt8>, minLength: Int, filter: Bool, distinct: Bool, limit: Int, scanBytes: Int) {
        let end = min(utf8.count, scanBytes)
        guard end > 0, limit > 0 else { return }
        let stopwords = filter ? StopwordTable.shared : nil
        // Repeats: open addressing over accepted ASCII words (slot = word index + 1); other words by String.
        let slotCount = distinct ? Self.powerOfTwo(atLeast: 2 * (end / max(1, minLength) + 8)) : 0
        var slots = [Int32](repeating: 0, count: slotCount)
        var hashes: [UInt64] = []
        var others = Set<String>()
        var out = [UInt8](repeating: 0, count: end)
        let expected = end / (max(1, minLength) + 1) + 1
        bounds.reserveCapacity(min(limit, expected) + 1)
        ascii.reserveCapacity(min(limit, expected))
        if distinct { hashes.reserveCapacity(expected) }
        var accepted = 0
        var w = 0
        out.withUnsafeMutableBufferPointer { out in
            var i = 0
            while i < end {
                // Skip to a word byte.
                let byte = utf8[i]
                if !Self.isWordByte(byte) { i += 1; continue }
                let start = w
                var hasLetter = false
                var nonASCII = false
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                while i < end {
                    var b = utf8[i]
                    if b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") {
                        b += 32
                        hasLetter = true
                    } else if b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") {
                        hasLetter = true
                    } else if b >= 0x80 {
                        hasLetter = true
                        nonASCII = true
                    } else if !(b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) {
                        break
                    }
                    out[w] = b
                    w += 1
                    h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3
                    i += 1
                }
                let length = w - start
                var keep = length >= minLength && length <= 40 && hasLetter
                if keep, let stopwords, !nonASCII, stopwords.contains(UnsafeBufferPointer(rebasing: out[start..<w]), hash: h) {
                    keep = false
                }
                if keep, distinct {
                    if nonASCII {
                        keep = others.insert(String(decoding: UnsafeBufferPointer(rebasing: out[start..<w]), as: UTF8.self)).inserted
                    } else {
                        let mask = slotCount - 1
                        var slot = Int(truncatingIfNeeded: h) & mask
                        while slots[slot] != 0 {
                            let other = Int(slots[slot]) - 1
                            if hashes[other] == h, Self.equal(out, bounds[other], bounds[other + 1], start, w) { keep = false; break }
                            slot = (slot + 1) & mask
                        }
                        if keep { slots[slot] = Int32(accepted + 1) }
                    }
                }
                if keep {
                    if distinct { hashes.append(nonASCII ? 0 : h) }
                    bounds.append(w)
                    ascii.append(!nonASCII)
                    accepted += 1
                    if accepted == limit { break }
                } else {
                    w = start
                }
            }
        }
        out.removeSubrange(w...)
        bytes = out
    }

    @inline(__always)
    private static func isWordByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b >= 0x80
    }

    private static func equal(_ buffer: UnsafeMutableBufferPointer<UInt8>, _ a: Int, _ aEnd: Int, _ b: Int, _ bEnd: Int) -> Bool {
        guard aEnd - a == bEnd - b else { return false }
        for k in 0..<(aEnd - a) where buffer[a + k] != buffer[b + k] { return false }
        return true
    }

    private static func powerOfTwo(atLeast n: Int) -> Int {
        var p = 16
        while p < n { p <<= 1 }
        return p
    }

    /// Word `i` as a String.
    func string(_ i: Int) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[bounds[i]..<bounds[i + 1]]), as: UTF8.self) }
    }

    /// `TextTools.isNounLike` of word `i`.
    func isNounLike(_ i: Int) -> Bool {
        guard ascii[i] else { return TextTools.isNounLike(string(i)) }
        let start = bounds[i], end = bounds[i + 1]
        guard end - start >= 2 else { return true }
        let a = bytes[end - 2], b = bytes[end - 1]
        return !((a == UInt8(ascii: "e") && b == UInt8(ascii: "d")) || (a == UInt8(ascii: "l") && b == UInt8(ascii: "y")))
    }

    /// Whether words `i` and `j` begin with the same five Characters (`prefix(5) == prefix(5)`).
    func samePrefix5(_ i: Int, _ j: Int) -> Bool {
        guard ascii[i], ascii[j] else { return string(i).prefix(5) == string(j).prefix(5) }
        let a = bounds[i], aCount = min(5, bounds[i + 1] - a)
        let b = bounds[j], bCount = min(5, bounds[j + 1] - b)
        guard aCount == bCount else { return false }
        for k in 0..<aCount where bytes[a + k] != bytes[b + k] { return false }
        return true
    }

    /// FNV-1a of word `i`'s bytes (the same as of its String: the words of valid UTF-8 are valid UTF-8).
    func stableHash(_ i: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for k in bounds[i]..<bounds[i + 1] { h = (h ^ UInt64(bytes[k])) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

/// `TextTools.stopwords` hashed by their bytes, with the hash `WordList` computes while scanning.
final class StopwordTable: Sendable {
    static let shared = StopwordTable(TextTools.stopwords)

    private let words: [[UInt8]]
    private let hashes: [UInt64]
    /// Open addressing: word index + 1, 0 for empty.
    private let slots: [Int32]

    init(_ set: Set<String>) {
        let words = set.sorted().map { Array($0.utf8) }
        var hashes: [UInt64] = []
        var slots = [Int32](repeating: 0, count: 1024)
        precondition(words.count < slots.count / 2)
        for (index, word) in words.enumerated() {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in word { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            hashes.append(h)
            var slot = Int(truncatingIfNeeded: h) & (slots.count - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (slots.count - 1) }
            slots[slot] = Int32(index + 1)
        }
        self.words = words
        self.hashes = hashes
        self.slots = slots
    }

    func contains(_ word: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Bool {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] != 0 {
            let index = Int(slots[slot]) - 1
            if hashes[index] == hash, words[index].count == word.count,
               words[index].withUnsafeBufferPointer({ memcmp($0.baseAddress!, word.baseAddress!, word.count) == 0 }) {
                return true
            }
            slot = (slot + 1) & mask
        }
        return false
    }
}
