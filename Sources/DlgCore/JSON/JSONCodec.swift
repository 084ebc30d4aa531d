import CJansson

/// Why a JSON text could not be read.
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let column: Int
    public var description: String { column > 0 ? "\(message) (column \(column))" : message }
    public init(message: String, column: Int) { self.message = message; self.column = column }
}

/// Parses JSON text (`JSONParser`, jansson for what it refuses) and writes it.
public enum JSONCodec {
    /// Parses one JSON value from UTF-8 bytes: with `JSONParser`, and with jansson what that leaves
    /// (text it refuses, so that every error is worded as before, and the rare forms it leaves).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSON {
        if let value = JSONParser.parse(bytes.assumingMemoryBound(to: UInt8.self)) { return value }
        return try parseWithJansson(bytes)
    }

    /// Parses one JSON value with jansson alone (what `parse` falls back to; the reference the
    /// parser is fuzzed against).
    public static func parseWithJansson(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSON {
        var error = json_error_t()
        guard let base = bytes.baseAddress,
            let root = json_loadb(base.assumingMemoryBound(to: CChar.self), bytes.count,
                                  Int(JSON_DECODE_ANY | JSON_ALLOW_NUL), &error)
        else {
            let text = withUnsafeBytes(of: &error.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw JSONParseError(message: text.isEmpty ? "empty input" : text, column: Int(error.column))
        }
        defer { dlg_json_decref(root) }
        return convert(root)
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSON { try parse(bytes[...]) }

    /// Parses a part of a buffer in place (a line of `LineReader`'s, without copying it out).
    public static func parse(_ bytes: ArraySlice<UInt8>) throws(JSONParseError) -> JSON {
        var result: Result<JSON, JSONParseError> = .success(.null)
        bytes.withUnsafeBytes { raw in
            do throws(JSONParseError) { result = .success(try parse(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    private static func convert(_ node: UnsafeMutablePointer<json_t>) -> JSON {
        switch dlg_json_typeof(node) {
        case Int32(JSON_OBJECT.rawValue):
            var object = JSONObject()
            object.reserveCapacity(json_object_size(node))
            var iter = json_object_iter(node)
            while let it = iter {
                // jansson keeps one value per key (a repeated key replaces the earlier one).
                let key = String(cString: json_object_iter_key(it))
                if let value = json_object_iter_value(it) { object.appendNew(key, convert(value)) }
                iter = json_object_iter_next(node, it)
            }
            return .object(object)
        case Int32(JSON_ARRAY.rawValue):
            let n = json_array_size(node)
            var items: [JSON] = []
            items.reserveCapacity(n)
            for i in 0..<n { if let v = json_array_get(node, i) { items.append(convert(v)) } }
            return .array(items)
        case Int32(JSON_STRING.rawValue):
            let length = json_string_length(node)
            guard let p = json_string_value(node) else { return .string("") }
            return .string(p.withMemoryRebound(to: UInt8.self, capacity: length) {
                String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
            })
        case Int32(JSON_INTEGER.rawValue): return .int(Int(json_integer_value(node)))
        case Int32(JSON_REAL.rawValue): return .double(json_real_value(node))
        case Int32(JSON_TRUE.rawValue): return .bool(true)
        case Int32(JSON_FALSE.rawValue): return .bool(false)
        default: return .null
        }
    }
}

extension JSON {
    /// Compact JSON text: no spaces, slashes unescaped, non-ASCII kept as UTF-8, keys in insertion order.
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Human-readable JSON with two-space indentation.
    public func pretty() -> String { String(decoding: prettyBytes(), as: UTF8.self) }

    /// Indented JSON text as UTF-8 bytes.
    public func prettyBytes() -> [UInt8] {
        var out: [UInt8] = []
        write(to: &out, indent: 0, pretty: true)
        return out
    }

    /// Appends compact JSON text to `out`.
    public func write(into out: inout [UInt8]) { write(to: &out, indent: 0, pretty: false) }

    /// Writes compact JSON text to `out` (the same bytes as `write(into:)`), e.g. through a
    /// `JSONChunks` writer that hands it on in pieces of bounded size.
    public func write(to out: inout some JSONOutput) { write(to: &out, indent: 0, pretty: false) }

    /// Writes indented JSON text to `out` (the same bytes as `prettyBytes()`).
    public func writePretty(to out: inout some JSONOutput) { write(to: &out, indent: 0, pretty: true) }

    /// Compact UTF-8 bytes, as `write(into:)`.
    public func compactBytes() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    /// Writes `object` compactly, but the value of member `key` as `raw`, bytes already serialized: a
    /// big value that goes into two documents (a chat request's messages: its body and its cache key) is
    /// serialized once.
    static func write(_ object: JSONObject, replacing key: String, with raw: [UInt8], into out: inout [UInt8]) {
        write(object, raw: [(key, raw)], into: &out)
    }

    /// Writes `object` compactly, but the value of each member named in `raw` as the bytes given there.
    static func write(_ object: JSONObject, raw: [(key: String, bytes: [UInt8])], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        var first = true
        for (k, v) in object.pairs {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSON.writeString(k, into: &out)
            out.append(UInt8(ascii: ":"))
            if let r = raw.first(where: { $0.key == k }) { out.append(contentsOf: r.bytes) } else { v.write(into: &out) }
        }
        out.append(UInt8(ascii: "}"))
    }

    private func write<O: JSONOutput>(to out: inout O, indent: Int, pretty: Bool) {
        switch self {
        case .null: out.appendASCII("null")
        case .bool(let b): out.appendASCII(b ? "true" : "false")
        case .int(let i): out.appendText(String(i))
        case .double(let d):
            if d.isFinite {
                if d.rounded() == d && abs(d) < 1e15 {
                    out.appendText(String(Int(d))); out.appendASCII(".0")
                } else {
                    out.appendText(d.description)
                }
            } else {
                out.appendASCII("null")
            }
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            if items.isEmpty { out.append(UInt8(ascii: "]")); return }
            for (i, v) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { newline(&out, indent + 1) }
                v.write(to: &out, indent: indent + 1, pretty: pretty)
            }
            if pretty { newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            if o.isEmpty { out.append(UInt8(ascii: "}")); return }
            var first = true
            for (k, v) in o.pairs {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                if pretty { newline(&out, indent + 1) }
                JSON.writeString(k, to: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(UInt8(ascii: " ")) }
                v.write(to: &out, indent: indent + 1, pretty: pretty)
            }
            if pretty { newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// A newline and the indentation, appended in one piece (a conversation file is mostly these).
    private func newline<O: JSONOutput>(_ out: inout O, _ indent: Int) {
        var n = 1 + indent * 2
        let lead = JSON.newlineAndSpaces
        out.append(contentsOf: UnsafeBufferPointer(start: lead.utf8Start, count: min(n, lead.utf8CodeUnitCount)))
        n -= lead.utf8CodeUnitCount
        while n > 0 {
            out.append(contentsOf: UnsafeBufferPointer(start: lead.utf8Start + 1, count: min(n, lead.utf8CodeUnitCount - 1)))
            n -= lead.utf8CodeUnitCount - 1
        }
    }

    private static let newlineAndSpaces: StaticString = "\n                                                                "

    static func writeString(_ s: String, into out: inout [UInt8]) { writeString(s, to: &out) }

    static func writeString<O: JSONOutput>(_ s: String, to out: inout O) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            let n = bytes.count
            // Runs of bytes that need no escape are copied whole (a 100 MB answer is one run, handed
            // on as it lies in the string's storage).
            var runStart = 0
            var i = 0
            while i < n {
                // Eight bytes at a time while none of them needs an escape: the usual case, text.
                while i + 8 <= n && !needsEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { i += 8 }
                if i >= n { break }
                let byte = base[i]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") { i += 1; continue }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: i - runStart)) }
                i += 1
                runStart = i
                out.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(byte)
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.appendASCII("u00")
                    out.append(hexDigit(byte >> 4)); out.append(hexDigit(byte & 0xF))
                }
            }
            if runStart < n { out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: n - runStart)) }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Whether one of the eight bytes of `w` is below 0x20, `"` or `\` (the bytes `writeString`
    /// escapes): the usual bit tricks for "a byte less than n" and "a zero byte", exact as a yes/no
    /// over the word.
    @inline(__always) static func needsEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let control = (w &- ones &* 0x20) & ~w & highs
        let q = w ^ (ones &* 0x22), b = w ^ (ones &* 0x5C)
        return (control | ((q &- ones) & ~q & highs) | ((b &- ones) & ~b & highs)) != 0
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x57 + v }
}
