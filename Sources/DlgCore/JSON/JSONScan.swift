#if canImport(Glibc)
import Glibc
#endif

/// A validating scan of a JSON object that builds nothing: it finds where each top-level member's
/// value lies in the bytes, and, for one array member, where each element and each element's members
/// lie. It accepts only text in the form `JSON.write` produces (no whitespace, keys unique, numbers and
/// string escapes as written there, valid UTF-8), so a part of the text that is copied through is
/// byte for byte what parsing and writing it again would give. Anything else (another writer's
/// spacing, `\/`, `1e2`, a duplicate key, bad UTF-8, very deep nesting) makes the scan return nil and
/// the caller parse the whole text the usual way; it never accepts what jansson would reject.
public enum JSONScan {
    /// Where a member's key (quotes included) and value lie in the scanned bytes.
    public struct Member: Sendable {
        public var key: Range<Int>
        public var value: Range<Int>
    }

    /// The members of the scanned object, and for the array member named by `arrayKey`, its elements.
    public struct Object: Sendable {
        public var members: [Member] = []
        /// Index in `members` of the array member, if there is one.
        public var arrayMember: Int?
        /// The array's elements, in order.
        public var elements: [Range<Int>] = []
        /// The members of each element that is an object (empty for an element that is not).
        public var elementMembers: [[Member]] = []
    }

    /// Scans `bytes` as one object in canonical form, indexing the array member `arrayKey`; nil when
    /// the text is not in that form (or not JSON).
    public static func object(_ bytes: UnsafeBufferPointer<UInt8>, arrayKey: String) -> Object? {
        var s = Scanner(bytes)
        var result = Object()
        let target = Array(arrayKey.utf8)
        guard s.peek == UInt8(ascii: "{") else { return nil }
        s.pos += 1
        if s.peek == UInt8(ascii: "}") {
            s.pos += 1
            return s.pos == bytes.count ? result : nil
        }
        var keys = KeySet()
        while true {
            let keyStart = s.pos
            guard s.string(), keys.insert(keyStart..<s.pos, in: bytes) else { return nil }
            let key = keyStart..<s.pos
            guard s.peek == UInt8(ascii: ":") else { return nil }
            s.pos += 1
            let valueStart = s.pos
            if s.peek == UInt8(ascii: "["), s.keyEquals(key, target) {
                guard s.indexedArray(into: &result) else { return nil }
                result.arrayMember = result.members.count
            } else {
                guard s.value(depth: 1) else { return nil }
            }
            result.members.append(Member(key: key, value: valueStart..<s.pos))
            if s.peek == UInt8(ascii: ",") { s.pos += 1; continue }
            guard s.peek == UInt8(ascii: "}") else { return nil }
            s.pos += 1
            break
        }
        return s.pos == bytes.count ? result : nil
    }

    /// Whether `bytes` hold exactly one JSON value in canonical form.
    public static func isCanonical(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var s = Scanner(bytes)
        return s.value(depth: 0) && s.pos == bytes.count
    }

    /// The string a canonical string token (quotes included) stands for.
    public static func string(_ token: UnsafeBufferPointer<UInt8>) -> String {
        let inner = UnsafeBufferPointer(rebasing: token[(token.startIndex + 1)..<(token.endIndex - 1)])
        guard inner.contains(UInt8(ascii: "\\")) else { return String(decoding: inner, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(inner.count)
        var i = 0
        while i < inner.count {
            let b = inner[i]
            guard b == UInt8(ascii: "\\") else { out.append(b); i += 1; continue }
            switch inner[i + 1] {
            case UInt8(ascii: "n"): out.append(0x0A); i += 2
            case UInt8(ascii: "r"): out.append(0x0D); i += 2
            case UInt8(ascii: "t"): out.append(0x09); i += 2
            case UInt8(ascii: "u"):
                // Canonical form: \u00XY, a control character.
                out.append(hexValue(inner[i + 4]) << 4 | hexValue(inner[i + 5])); i += 6
            default: out.append(inner[i + 1]); i += 2
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether any of the eight bytes of `w` is below 0x20, from 0x80, `"` or `\` (the bit tricks of
    /// "Bit Twiddling Hacks": a byte is zero where `(v - 0x01..) & ~v & 0x80..` has its top bit).
    @inline(__always) static func hasSpecialByte(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func hasZero(_ v: UInt64) -> Bool { (v &- ones) & ~v & highs != 0 }
        let below20 = (w &- ones &* 0x20) & ~w & highs
        return w & highs != 0 || below20 != 0 || hasZero(w ^ (ones &* 0x22)) || hasZero(w ^ (ones &* 0x5C))
    }

    /// The length of the multi-byte UTF-8 sequence at `at`, or 0 if it is not one jansson accepts: no
    /// overlong form, no surrogate, at most U+10FFFF.
    static func utf8SequenceLength(_ b: UnsafeBufferPointer<UInt8>, at pos: Int) -> Int {
        let c = b[pos]
        let n = b.count
        func cont(_ i: Int) -> Bool { i < n && b[i] & 0xC0 == 0x80 }
        if c >= 0xC2 && c <= 0xDF {
            return cont(pos + 1) ? 2 : 0
        } else if c >= 0xE0 && c <= 0xEF {
            guard cont(pos + 1), cont(pos + 2) else { return 0 }
            let c1 = b[pos + 1]
            if c == 0xE0 && c1 < 0xA0 { return 0 }
            if c == 0xED && c1 >= 0xA0 { return 0 }
            return 3
        } else if c >= 0xF0 && c <= 0xF4 {
            guard cont(pos + 1), cont(pos + 2), cont(pos + 3) else { return 0 }
            let c1 = b[pos + 1]
            if c == 0xF0 && c1 < 0x90 { return 0 }
            if c == 0xF4 && c1 >= 0x90 { return 0 }
            return 4
        }
        return 0
    }

    static func hexValue(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - 0x30 : c - 0x57 }

    /// Deeper than this, the scan gives up (jansson's own limit is 2048).
    static let maxDepth = 512

    /// Keys seen in one object, to refuse a repeated one (jansson keeps only the last, so copying the
    /// text through would not be what parsing gives).
    struct KeySet {
        var keys: [Range<Int>] = []
        mutating func insert(_ key: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            if keys.count >= 256 { return false }
            for k in keys where k.count == key.count {
                if memcmp(bytes.baseAddress! + k.lowerBound, bytes.baseAddress! + key.lowerBound, k.count) == 0 { return false }
            }
            keys.append(key)
            return true
        }
    }

    struct Scanner {
        let b: UnsafeBufferPointer<UInt8>
        var pos = 0
        init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

        var peek: UInt8 { pos < b.count ? b[pos] : 0 }

        func keyEquals(_ key: Range<Int>, _ target: [UInt8]) -> Bool {
            guard key.count == target.count + 2 else { return false }
            for (i, c) in target.enumerated() where b[key.lowerBound + 1 + i] != c { return false }
            return true
        }

        mutating func value(depth: Int) -> Bool {
            guard pos < b.count else { return false }
            switch b[pos] {
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard pos + n <= b.count, memcmp(b.baseAddress! + pos, word.utf8Start, n) == 0 else { return false }
            pos += n
            return true
        }

        mutating func object(depth: Int) -> Bool {
            var unrecorded: [Member]? = nil
            return object(depth: depth, recording: &unrecorded)
        }

        /// An object; its members are appended to `members` unless that is nil (an element of the
        /// indexed array records them).
        mutating func object(depth: Int, recording members: inout [Member]?) -> Bool {
            guard depth <= JSONScan.maxDepth else { return false }
            pos += 1
            if peek == UInt8(ascii: "}") { pos += 1; return true }
            var keys = KeySet()
            while true {
                let start = pos
                guard string(), keys.insert(start..<pos, in: b), peek == UInt8(ascii: ":") else { return false }
                let key = start..<pos
                pos += 1
                let valueStart = pos
                guard value(depth: depth) else { return false }
                members?.append(Member(key: key, value: valueStart..<pos))
                if peek == UInt8(ascii: ",") { pos += 1; continue }
                guard peek == UInt8(ascii: "}") else { return false }
                pos += 1
                return true
            }
        }

        mutating func array(depth: Int) -> Bool {
            guard depth <= JSONScan.maxDepth else { return false }
            pos += 1
            if peek == UInt8(ascii: "]") { pos += 1; return true }
            while true {
                guard value(depth: depth) else { return false }
                if peek == UInt8(ascii: ",") { pos += 1; continue }
                guard peek == UInt8(ascii: "]") else { return false }
                pos += 1
                return true
            }
        }

        mutating func indexedArray(into result: inout Object) -> Bool {
            pos += 1
            if peek == UInt8(ascii: "]") { pos += 1; return true }
            while true {
                let start = pos
                var members: [Member]? = []
                if peek == UInt8(ascii: "{") {
                    guard object(depth: 2, recording: &members) else { return false }
                } else {
                    guard value(depth: 2) else { return false }
                }
                result.elements.append(start..<pos)
                result.elementMembers.append(members ?? [])
                if peek == UInt8(ascii: ",") { pos += 1; continue }
                guard peek == UInt8(ascii: "]") else { return false }
                pos += 1
                return true
            }
        }

        /// A string as `JSON.writeString` writes it: raw bytes from 0x20 up (valid UTF-8) but `"` and
        /// `\`, which are escaped, and control characters as `\n`, `\r`, `\t` or `\u00xy`.
        mutating func string() -> Bool {
            guard peek == UInt8(ascii: "\"") else { return false }
            pos += 1
            let n = b.count
            let base = UnsafeRawPointer(b.baseAddress!)
            while pos < n {
                // Eight plain bytes at a time (printable ASCII, neither `"` nor `\`): most of a record's
                // bytes are the text of its answers, and a byte at a time was a twentieth of a stage's CPU.
                while pos + 8 <= n {
                    let w = base.loadUnaligned(fromByteOffset: pos, as: UInt64.self)
                    if JSONScan.hasSpecialByte(w) { break }
                    pos += 8
                }
                guard pos < n else { break }
                let c = b[pos]
                if c >= 0x20 && c < 0x80 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { pos += 1; continue }
                if c == UInt8(ascii: "\"") { pos += 1; return true }
                if c == UInt8(ascii: "\\") {
                    guard pos + 1 < n else { return false }
                    switch b[pos + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        pos += 2
                    case UInt8(ascii: "u"):
                        guard pos + 6 <= n, b[pos + 2] == 0x30, b[pos + 3] == 0x30,
                              b[pos + 4] == 0x30 || b[pos + 4] == 0x31 else { return false }
                        let low = b[pos + 5]
                        let digit = (low >= 0x30 && low <= 0x39) || (low >= 0x61 && low <= 0x66)
                        guard digit else { return false }
                        let v = JSONScan.hexValue(b[pos + 4]) << 4 | JSONScan.hexValue(low)
                        // \n, \r and \t have their short escapes.
                        guard v != 0x0A && v != 0x0D && v != 0x09 else { return false }
                        pos += 6
                    default: return false
                    }
                    continue
                }
                if c < 0x20 { return false }
                guard utf8Sequence() else { return false }
            }
            return false
        }

        /// One multi-byte UTF-8 sequence.
        mutating func utf8Sequence() -> Bool {
            let length = JSONScan.utf8SequenceLength(b, at: pos)
            pos += length
            return length > 0
        }

        /// A number as `JSON.write` writes it: an integer of up to 18 digits, or a real that writes
        /// back as the same text.
        mutating func number() -> Bool {
            let start = pos
            if peek == UInt8(ascii: "-") { pos += 1 }
            let digits = pos
            while pos < b.count && b[pos] >= 0x30 && b[pos] <= 0x39 { pos += 1 }
            let count = pos - digits
            guard count > 0, count <= 18 else { return false }
            if b[digits] == 0x30 && count > 1 { return false }
            let isReal = peek == UInt8(ascii: ".") || peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E")
            if !isReal {
                // "-0" reads as the integer 0, written "0".
                return !(b[start] == UInt8(ascii: "-") && count == 1 && b[digits] == 0x30)
            }
            while pos < b.count {
                let c = b[pos]
                guard (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                        || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") else { break }
                pos += 1
            }
            let text = UnsafeBufferPointer(rebasing: b[start..<pos])
            guard case .double(let d)? = try? JSONCodec.parse(UnsafeRawBufferPointer(text)) else { return false }
            var written: [UInt8] = []
            JSON.double(d).write(into: &written)
            return written.elementsEqual(text)
        }
    }
}
