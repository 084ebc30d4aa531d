// Compact JSON output into a byte array: keys in the order given, no escaped slashes.

/// Appends compact JSON text to a byte buffer.
struct JSONWriter {
    /// The text written so far (UTF-8).
    var bytes: [UInt8] = []

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    /// The text written so far as a `String`.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    mutating func raw(_ literal: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func int(_ value: Int) {
        raw(String(value))
    }

    mutating func number(_ value: Double) {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            raw(String(Int(value)))
        } else if value.isFinite {
            raw(value.description)
        } else {
            raw("null")
        }
    }

    mutating func float(_ value: Float) {
        if value == 0 { raw("0") } else { raw(value.description) }
    }

    /// Writes `text` as a quoted JSON string.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { escape($0) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes UTF-8 bytes as a quoted JSON string.
    mutating func string(bytes text: [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        text.withUnsafeBufferPointer { escape($0) }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes raw UTF-8 bytes as the body of a JSON string (no quotes).
    ///
    /// Two passes, 8 bytes at a time: count the bytes to escape, then write into space made once (a reply's
    /// JSON, escaped as a string, has a quote every few bytes: a run appended between each was slower).
    mutating func escape(_ utf8: UnsafeBufferPointer<UInt8>) {
        guard let src = utf8.baseAddress, !utf8.isEmpty else { return }
        let n = utf8.count
        var specials = 0
        var i = 0
        while i + 8 <= n {
            specials += JSONWriter.specialBytes(UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)).nonzeroBitCount
            i += 8
        }
        while i < n {
            if JSONWriter.isSpecial(src[i]) { specials += 1 }
            i += 1
        }
        if specials == 0 {
            bytes.append(contentsOf: utf8)
            return
        }
        let start = bytes.count
        // At most 6 bytes for one (\u00XX).
        bytes.append(contentsOf: repeatElement(0, count: n + 5 * specials))
        let written = bytes.withUnsafeMutableBufferPointer { out -> Int in
            let dst = out.baseAddress!
            var w = start
            var i = 0
            while i < n {
                if i + 8 <= n {
                    let x = UnsafeRawPointer(src + i).loadUnaligned(as: UInt64.self)
                    if JSONWriter.specialBytes(x) == 0 {
                        UnsafeMutableRawPointer(dst + w).storeBytes(of: x, as: UInt64.self)
                        w += 8
                        i += 8
                        continue
                    }
                }
                let byte = src[i]
                i += 1
                guard JSONWriter.isSpecial(byte) else {
                    dst[w] = byte
                    w += 1
                    continue
                }
                dst[w] = 0x5C
                switch byte {
                case UInt8(ascii: "\""): dst[w + 1] = UInt8(ascii: "\"")
                case UInt8(ascii: "\\"): dst[w + 1] = UInt8(ascii: "\\")
                case 0x0A: dst[w + 1] = UInt8(ascii: "n")
                case 0x0D: dst[w + 1] = UInt8(ascii: "r")
                case 0x09: dst[w + 1] = UInt8(ascii: "t")
                case 0x08: dst[w + 1] = UInt8(ascii: "b")
                case 0x0C: dst[w + 1] = UInt8(ascii: "f")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    dst[w + 1] = UInt8(ascii: "u")
                    dst[w + 2] = 0x30
                    dst[w + 3] = 0x30
                    dst[w + 4] = hex.utf8Start[Int(byte >> 4)]
                    dst[w + 5] = hex.utf8Start[Int(byte & 0xF)]
                    w += 4
                }
                w += 2
            }
            return w
        }
        bytes.removeLast(bytes.count - written)
    }

    @inline(__always)
    static func isSpecial(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// 0x80 in each byte of `x` that is a quote, a backslash or below 0x20, 0 elsewhere (exact, so the
    /// bits can be counted).
    @inline(__always)
    static func specialBytes(_ x: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7 = ones &* 0x7F
        @inline(__always) func zeros(_ y: UInt64) -> UInt64 { ~(((y & low7) &+ low7) | y | low7) }
        return zeros(x ^ (ones &* 0x22)) | zeros(x ^ (ones &* 0x5C)) | zeros(x & (ones &* 0xE0))
    }

    /// Writes a whole value.
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .int(let i): int(i)
        case .number(let d): number(d)
        case .string(let s): string(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                self.value(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                string(member.key)
                bytes.append(UInt8(ascii: ":"))
                self.value(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// The compact serialization of `value`.
    static func serialize(_ value: JSONValue, capacity: Int = 512) -> [UInt8] {
        var writer = JSONWriter(capacity: capacity)
        writer.value(value)
        return writer.bytes
    }
}
