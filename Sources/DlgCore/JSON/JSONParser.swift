#if canImport(Glibc)
import Glibc
#endif

/// Parses JSON text straight into `JSON`, for the text jansson would accept and give the same value
/// for; on anything else it returns nil and `JSONCodec.parse` hands the text to jansson, which then
/// parses it (the rare forms left to it: nesting deeper than 512, a repeated key in a large object) or
/// says what is wrong with it, in its own words. Through jansson every value was built twice (jansson's
/// tree, then ours) and an LLM reply's parse was a sixth of a stage's CPU at 256 requests in flight.
///
/// What it accepts, as jansson does (`JSON_DECODE_ANY | JSON_ALLOW_NUL`): any value at the top, the
/// four whitespace bytes between tokens, every string escape with surrogate pairs and `\u0000` (not
/// in a key), valid UTF-8 only, integers that fit 64 bits (`.int`), reals with a fraction or an
/// exponent read by `strtod` that do not overflow (`.double`), a repeated key replacing the earlier
/// value where it stood.
enum JSONParser {
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> JSON? {
        guard bytes.baseAddress != nil else { return nil }
        var parser = Parser(bytes)
        parser.skipSpace()
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        // No `cond ? value : nil` in this file: JSON is ExpressibleByNilLiteral, so such a nil can
        // type-check as JSON.null, accepted.
        guard parser.pos == bytes.count else { return nil }
        return value
    }

    /// Deeper than this the parser leaves the text to jansson (whose own limit is 2048).
    static let maxDepth = 512
    /// An object with more members than this tracks its keys in a set, so that a huge object is not
    /// a quadratic search for repeated keys.
    static let linearKeySearchLimit = 32

    struct Parser {
        let b: UnsafeBufferPointer<UInt8>
        let n: Int
        var pos = 0
        /// Reused for strings with escapes.
        var scratch: [UInt8] = []

        init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b; self.n = b.count }

        var peek: UInt8 { pos < n ? b[pos] : 0 }

        mutating func skipSpace() {
            while pos < n {
                let c = b[pos]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                pos += 1
            }
        }

        mutating func value(depth: Int) -> JSON? {
            guard pos < n else { return nil }
            switch b[pos] {
            case UInt8(ascii: "\""): return string(isKey: false).map(JSON.string)
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "t"): return literal("true") ? Optional(.bool(true)) : .none
            case UInt8(ascii: "f"): return literal("false") ? Optional(.bool(false)) : .none
            case UInt8(ascii: "n"): return literal("null") ? Optional(.null) : .none
            default: return number()
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard pos + count <= n, memcmp(b.baseAddress! + pos, word.utf8Start, count) == 0 else { return false }
            pos += count
            return true
        }

        mutating func object(depth: Int) -> JSON? {
            guard depth <= JSONParser.maxDepth else { return nil }
            pos += 1
            skipSpace()
            var object = JSONObject()
            if peek == UInt8(ascii: "}") { pos += 1; return .object(object) }
            var keys: Set<String>? = nil
            while true {
                guard peek == UInt8(ascii: "\""), let key = string(isKey: true) else { return nil }
                skipSpace()
                guard peek == UInt8(ascii: ":") else { return nil }
                pos += 1
                skipSpace()
                guard let member = value(depth: depth) else { return nil }
                if object.count < JSONParser.linearKeySearchLimit {
                    // A repeated key replaces the earlier value where it stood, as in jansson.
                    object[key] = member
                } else {
                    if keys == nil { keys = Set(object.keys) }
                    // A repeated key in a large object is left to jansson rather than searched for.
                    guard keys!.insert(key).inserted else { return nil }
                    object.appendNew(key, member)
                }
                skipSpace()
                if peek == UInt8(ascii: ",") { pos += 1; skipSpace(); continue }
                guard peek == UInt8(ascii: "}") else { return nil }
                pos += 1
                return .object(object)
            }
        }

        mutating func array(depth: Int) -> JSON? {
            guard depth <= JSONParser.maxDepth else { return nil }
            pos += 1
            skipSpace()
            var items: [JSON] = []
            if peek == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                guard let item = value(depth: depth) else { return nil }
                items.append(item)
                skipSpace()
                if peek == UInt8(ascii: ",") { pos += 1; skipSpace(); continue }
                guard peek == UInt8(ascii: "]") else { return nil }
                pos += 1
                return .array(items)
            }
        }

        /// A string token at `pos`; nil if jansson would refuse it (a control byte, a bad escape, a
        /// lone surrogate, invalid UTF-8, or `\u0000` in a key).
        mutating func string(isKey: Bool) -> String? {
            pos += 1
            let start = pos
            var escaped = false
            let base = UnsafeRawPointer(b.baseAddress!)
            while true {
                // Eight plain ASCII bytes at a time: most of a reply is prose.
                while pos + 8 <= n && !JSONScan.hasSpecialByte(base.loadUnaligned(fromByteOffset: pos, as: UInt64.self)) {
                    pos += 8
                }
                guard pos < n else { return nil }
                let c = b[pos]
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") {
                    guard let length = escapeLength(at: pos, isKey: isKey) else { return nil }
                    escaped = true
                    pos += length
                } else if c < 0x20 {
                    return nil
                } else if c < 0x80 {
                    pos += 1
                } else {
                    let length = JSONScan.utf8SequenceLength(b, at: pos)
                    guard length > 0 else { return nil }
                    pos += length
                }
            }
            let end = pos
            pos += 1
            let raw = UnsafeBufferPointer(rebasing: b[start..<end])
            return escaped ? decode(raw) : String(decoding: raw, as: UTF8.self)
        }

        /// The length of the escape at `at` (6 or 12 for `\u`, a surrogate pair taking two), or nil.
        func escapeLength(at: Int, isKey: Bool) -> Int? {
            guard at + 1 < n else { return nil }
            switch b[at + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                return 2
            case UInt8(ascii: "u"):
                guard let unit = hex4(at: at + 2) else { return nil }
                if unit == 0 { return isKey ? nil : 6 }
                if unit >= 0xDC00 && unit <= 0xDFFF { return nil }
                guard unit >= 0xD800 && unit <= 0xDBFF else { return 6 }
                guard at + 7 < n, b[at + 6] == UInt8(ascii: "\\"), b[at + 7] == UInt8(ascii: "u"),
                      let low = hex4(at: at + 8), low >= 0xDC00 && low <= 0xDFFF else { return nil }
                return 12
            default:
                return nil
            }
        }

        func hex4(at: Int) -> UInt32? {
            guard at + 4 <= n else { return nil }
            var v: UInt32 = 0
            for i in at..<(at + 4) {
                let c = b[i]
                let digit: UInt8
                switch c {
                case 0x30...0x39: digit = c - 0x30
                case 0x41...0x46: digit = c - 0x37
                case 0x61...0x66: digit = c - 0x57
                default: return nil
                }
                v = v << 4 | UInt32(digit)
            }
            return v
        }

        /// The string a validated token's inside stands for.
        mutating func decode(_ raw: UnsafeBufferPointer<UInt8>) -> String {
            scratch.removeAll(keepingCapacity: true)
            scratch.reserveCapacity(raw.count)
            var i = 0
            var runStart = 0
            while i < raw.count {
                guard raw[i] == UInt8(ascii: "\\") else { i += 1; continue }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: raw[runStart..<i]))
                let kind = raw[i + 1]
                i += 2
                switch kind {
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = Self.hexValue(raw, i)
                    i += 4
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (Self.hexValue(raw, i + 2) - 0xDC00)
                        i += 6
                    }
                    appendUTF8(scalar)
                default: scratch.append(kind)  // " \ /
                }
                runStart = i
            }
            scratch.append(contentsOf: UnsafeBufferPointer(rebasing: raw[runStart..<raw.count]))
            return String(decoding: scratch, as: UTF8.self)
        }

        static func hexValue(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for c in raw[at..<(at + 4)] {
                v = v << 4 | UInt32(c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57)
            }
            return v
        }

        mutating func appendUTF8(_ scalar: UInt32) {
            switch scalar {
            case ..<0x80: scratch.append(UInt8(scalar))
            case ..<0x800:
                scratch.append(UInt8(0xC0 | scalar >> 6)); scratch.append(UInt8(0x80 | scalar & 0x3F))
            case ..<0x10000:
                scratch.append(UInt8(0xE0 | scalar >> 12)); scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
                scratch.append(UInt8(0x80 | scalar & 0x3F))
            default:
                scratch.append(UInt8(0xF0 | scalar >> 18)); scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
                scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F)); scratch.append(UInt8(0x80 | scalar & 0x3F))
            }
        }

        func isDigit(_ at: Int) -> Bool { at < n && b[at] >= 0x30 && b[at] <= 0x39 }

        /// A number in JSON's grammar: an integer that fits 64 bits, or a real that does not overflow.
        mutating func number() -> JSON? {
            let start = pos
            let negative = peek == UInt8(ascii: "-")
            if negative { pos += 1 }
            guard isDigit(pos) else { return nil }
            if b[pos] == 0x30 {
                pos += 1
                if isDigit(pos) { return nil }
            } else {
                while isDigit(pos) { pos += 1 }
            }
            let integerEnd = pos
            var isReal = false
            if peek == UInt8(ascii: ".") {
                pos += 1
                guard isDigit(pos) else { return nil }
                while isDigit(pos) { pos += 1 }
                isReal = true
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                pos += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { pos += 1 }
                guard isDigit(pos) else { return nil }
                while isDigit(pos) { pos += 1 }
                isReal = true
            }
            if !isReal {
                // Accumulated negative, so that the most negative integer fits.
                var value = 0
                for i in (negative ? start + 1 : start)..<integerEnd {
                    let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                    let (next, o2) = times10.subtractingReportingOverflow(Int(b[i] - 0x30))
                    if o1 || o2 { return nil }
                    value = next
                }
                if !negative {
                    guard value != Int.min else { return nil }
                    value = -value
                }
                return .int(value)
            }
            // Swift reads a real with strtod in the C locale, as jansson does (the same bits).
            guard let value = Double(String(decoding: UnsafeBufferPointer(rebasing: b[start..<pos]), as: UTF8.self)) else {
                return nil
            }
            guard value.isFinite else { return nil }
            return .double(value)
        }
    }
}
