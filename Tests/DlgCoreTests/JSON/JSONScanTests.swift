// The scan that lets a stage copy the parts of a record it does not read: it must accept exactly the
// text JSON.write produces, and index it right.

@testable import DlgCore
import Foundation
import Testing

@Suite struct JSONScanTests {
    static func scan(_ text: String, key: String = "turns") -> JSONScan.Object? {
        Array(text.utf8).withUnsafeBufferPointer { JSONScan.object($0, arrayKey: key) }
    }

    static func canonical(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBufferPointer { JSONScan.isCanonical($0) } }

    @Test func indexesMembersAndTheArraysElements() throws {
        let text = #"{"a":1,"turns":[{"x":"y","z":[1,{"k":null}]},{}],"b":{"c":true}}"#
        let s = try #require(Self.scan(text))
        let bytes = Array(text.utf8)
        func str(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        #expect(s.members.map { str($0.key) } == [#""a""#, #""turns""#, #""b""#])
        #expect(s.arrayMember == 1)
        #expect(s.elements.map(str) == [#"{"x":"y","z":[1,{"k":null}]}"#, "{}"])
        #expect(s.elementMembers[0].map { str($0.value) } == [#""y""#, #"[1,{"k":null}]"#])
        #expect(s.elementMembers[1].isEmpty)
        #expect(str(s.members[2].value) == #"{"c":true}"#)
    }

    @Test func theEightByteTestFindsEveryByteAStringScanMustLookAt() {
        func special(_ b: UInt8) -> Bool { b < 0x20 || b >= 0x80 || b == 0x22 || b == 0x5C }
        let edges: [UInt8] = [0x00, 0x01, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x5B, 0x5C, 0x5D, 0x7E, 0x7F, 0x80, 0x81, 0xC3, 0xFF, 0x61]
        var rng = SeededRandom(seed: 8)
        for round in 0..<200_000 {
            var w: UInt64 = 0
            var expected = false
            for k in 0..<8 {
                // Mostly plain letters, with one or two edge bytes at random places.
                let b: UInt8 = round % 3 == 0 || Int.random(in: 0..<6, using: &rng) == 0
                    ? edges.randomElement(using: &rng)! : UInt8.random(in: 0x23...0x5B, using: &rng)
                expected = expected || special(b)
                w |= UInt64(b) << (8 * UInt64(k))
            }
            #expect(JSONScan.hasSpecialByte(w) == expected, "\(String(w, radix: 16))")
            if JSONScan.hasSpecialByte(w) != expected { return }
        }
    }

    @Test func refusesWhatJSONWriteWouldNotWrite() {
        let refused = [
            #"{"a": 1}"#, #"{"a":1} "#, #"{"a":"\/"}"#, #"{"a":"\u00e9"}"#, #"{"a":"\u001F"}"#, #"{"a":"\b"}"#,
            #"{"a":"\u000a"}"#, #"{"a":1e2}"#, #"{"a":1.50}"#, #"{"a":-0}"#, #"{"a":01}"#, #"{"a":1,"a":2}"#,
            #"{"t":{"b":1,"b":1}}"#, #"{"a":1234567890123456789}"#, #"{"a":1}x"#, #"{"a":tru}"#, #"{"a":[1,]}"#,
            #"{"a":"x"#, #"["a"]"#, "{\"a\":\"\u{1}\"}",
        ]
        for text in refused { #expect(Self.scan(text) == nil, "\(text)") }
        // Bytes that are not UTF-8: overlong, a surrogate, past U+10FFFF, a lone continuation byte.
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xE2, 0x82]] {
            let text = Array(#"{"a":""#.utf8) + bad + Array(#""}"#.utf8)
            #expect(!Self.canonical(text))
        }
    }

    /// Every value JSON.write writes, the scan accepts, and a string decodes to what was written.
    @Test func acceptsWhatJSONWriteWrites() throws {
        var rng = SeededRandom("json-scan")
        for _ in 0..<400 {
            let v = Self.randomValue(&rng, depth: 0)
            var bytes: [UInt8] = []
            v.write(into: &bytes)
            #expect(Self.canonical(bytes), "\(String(decoding: bytes, as: UTF8.self))")
            #expect(try JSONCodec.parse(bytes) == v)
            if case .string(let s) = v {
                #expect(bytes.withUnsafeBufferPointer { JSONScan.string($0) } == s)
            }
        }
    }

    static let alphabet: [String] = ["a", "Z", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{1}", "\u{1F}", "\u{7F}", "é", "€", "😀", "\u{0}"]

    static func randomValue(_ rng: inout SeededRandom, depth: Int) -> JSON {
        switch Int(rng.unit() * (depth > 3 ? 5 : 7)) {
        case 0: return .null
        case 1: return .bool(rng.unit() < 0.5)
        case 2: return .int(Int(rng.unit() * 2e12) - 1_000_000_000_000)
        case 3: return .double([0.5, -2.25, 1e20, 3.0, 1e-7, 123.456][Int(rng.unit() * 6)])
        case 4: return .string((0..<Int(rng.unit() * 12)).map { _ in alphabet[Int(rng.unit() * Double(alphabet.count))] }.joined())
        case 5: return .array((0..<Int(rng.unit() * 4)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            var o = JSONObject()
            for i in 0..<Int(rng.unit() * 4) { o["k\(i)\(alphabet[Int(rng.unit() * 5)])"] = randomValue(&rng, depth: depth + 1) }
            return .object(o)
        }
    }
}
