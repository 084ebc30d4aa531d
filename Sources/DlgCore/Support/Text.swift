import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Text checks run on every reply, written over UTF-8 bytes with a Unicode fallback: Foundation's
/// `trimmingCharacters`, `range(of:)` and Character-by-Character splitting bridged through NSString
/// and grapheme breaking, and took a third of dlg-gen's CPU (perf, 256 dialogues in flight).
public enum Text {
    /// A byte that is ASCII and not whitespace (U+0009-U+000D, U+0020).
    @inline(__always) static func isASCIINonSpace(_ b: UInt8) -> Bool { b > 0x20 && b < 0x80 }
    @inline(__always) static func isASCIISpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    /// `s` without leading and trailing whitespace and newlines: the Unicode White_Space set, which is
    /// what Foundation's `.whitespacesAndNewlines` holds (Z* categories, U+0009-U+000D, U+0085).
    public static func trimmed(_ s: String) -> String {
        let u = s.utf8
        guard let first = u.first, let last = u.last else { return s }
        if isASCIINonSpace(first) && isASCIINonSpace(last) { return s }
        let scalars = s.unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[start...end])
    }

    /// Lowercased, whitespace runs collapsed to one space, no space at either end (upstream's
    /// question normalisation). ASCII text is done on bytes; other text through the Unicode rules.
    public static func normalized(_ s: String) -> String {
        var s = s
        let ascii: String? = s.withUTF8 { bytes in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var space = false
            for b in bytes {
                if b >= 0x80 { return nil }
                if isASCIISpace(b) { space = !out.isEmpty; continue }
                if space { out.append(0x20); space = false }
                out.append(b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
            }
            return String(decoding: out, as: UTF8.self)
        }
        return ascii ?? s.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Whether `needle` occurs in `haystack`, byte for byte.
    public static func contains(_ haystack: String, _ needle: String) -> Bool {
        if needle.isEmpty { return true }
        var h = haystack, n = needle
        return h.withUTF8 { hb in
            n.withUTF8 { nb in
                guard nb.count <= hb.count, let h = hb.baseAddress, let n = nb.baseAddress else { return false }
                // memchr for the first byte, memcmp for the rest (Glibc's module does not export memmem).
                let last = hb.count - nb.count
                var i = 0
                while i <= last {
                    guard let hit = memchr(h + i, Int32(n[0]), last - i + 1) else { return false }
                    let at = UnsafeRawPointer(hit) - UnsafeRawPointer(h)
                    if memcmp(h + at, n, nb.count) == 0 { return true }
                    i = at + 1
                }
                return false
            }
        }
    }

    /// Lowercased words: runs of characters for which `isWordCharacter` holds (bytes for ASCII text,
    /// Characters otherwise).
    public static func words(_ s: String, ascii isWordByte: (UInt8) -> Bool,
                             unicode isWordCharacter: (Character) -> Bool) -> [String] {
        var s = s
        let ascii: [String]? = s.withUTF8 { bytes in
            var out: [String] = []
            var start = -1
            for i in 0...bytes.count {
                let b: UInt8 = i < bytes.count ? bytes[i] : 0x20
                if b >= 0x80 { return nil }
                let lower = b >= 0x41 && b <= 0x5A ? b + 0x20 : b
                if isWordByte(lower) {
                    if start < 0 { start = i }
                } else if start >= 0 {
                    out.append(String(decoding: bytes[start..<i].map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self))
                    start = -1
                }
            }
            return out
        }
        return ascii ?? s.lowercased().split(whereSeparator: { !isWordCharacter($0) }).map(String.init)
    }

    @inline(__always) static func isASCIILetter(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) }
    @inline(__always) static func isASCIIDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// A `<...>` placeholder of 3 to 80 characters without `<`, `>` or a newline inside (a prompt's
    /// template copied back by a small model).
    public static func hasPlaceholder(_ s: String) -> Bool {
        var inside = -1
        for scalar in s.unicodeScalars {
            switch scalar {
            case "<": inside = 0
            case ">":
                if inside >= 3 { return true }
                inside = -1
            case "\n": inside = -1
            default:
                if inside >= 0 { inside = inside < 80 ? inside + 1 : -1 }
            }
        }
        return false
    }

    /// The runs of letters and digits in `s`, lowercased (for word overlap and BM25).
    public static func lettersAndDigits(_ s: String) -> [String] {
        words(s, ascii: { isASCIILetter($0) || isASCIIDigit($0) }, unicode: { $0.isLetter || $0.isNumber })
    }
}
