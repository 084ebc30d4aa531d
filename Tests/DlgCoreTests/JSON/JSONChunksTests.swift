// JSON text written through JSONChunks: the same bytes as written whole, in pieces of bounded size.

import Foundation
import Testing
@testable import DlgCore

@Suite struct JSONChunksTests {
    /// A value with every kind of member, escapes, non-ASCII text and a string longer than the pieces.
    static let value: JSON = {
        let long = String(repeating: "All work and no play, \"quoted\"\n\té ✓ 🚲\u{01}. ", count: 2_000)
        return .obj([
            "id": "c-1", "n": 3, "x": 2.5, "big": 1e300, "ok": true, "none": nil, "empty": .obj([:]), "list": [],
            "turns": .array((0..<3).map { i in .obj(["turn_index": .int(i), "answer": .string(long), "tags": ["a", "b/c"]]) }),
        ])
    }()

    func chunks(_ limit: Int, pretty: Bool) throws -> (bytes: [UInt8], pieces: [[UInt8]]) {
        var pieces: [[UInt8]] = []
        var out = JSONChunks(limit: limit) { bytes in pieces.append(bytes) }
        if pretty { Self.value.writePretty(to: &out) } else { Self.value.write(to: &out) }
        out.append(0x0A)
        try out.finish()
        return (pieces.flatMap { $0 }, pieces)
    }

    @Test(arguments: [1, 7, 4096, 1 << 18, 1 << 24])
    func sameBytesAsWrittenWhole(limit: Int) throws {
        var whole: [UInt8] = []
        Self.value.write(into: &whole)
        whole.append(0x0A)
        let compact = try chunks(limit, pretty: false)
        #expect(compact.bytes == whole)
        #expect(compact.pieces.allSatisfy { !$0.isEmpty && $0.count <= limit }, "a piece is empty or over the limit")
        let pretty = try chunks(limit, pretty: true)
        #expect(pretty.bytes == Self.value.prettyBytes() + [0x0A])
        #expect(pretty.pieces.allSatisfy { !$0.isEmpty && $0.count <= limit })
        if limit == 4096 { #expect(compact.pieces.count >= whole.count / 4096) }
    }

    @Test func theFirstErrorStopsTheWritingAndIsThrownByFinish() {
        var calls = 0
        var out = JSONChunks(limit: 16) { (_: [UInt8]) throws(DlgError) in
            calls += 1
            if calls == 2 { throw DlgError.io("disk full") }
        }
        Self.value.write(to: &out)
        #expect(calls == 2, "no piece is handed on after the error")
        #expect(throws: DlgError.self) { try out.finish() }
    }
}

@Suite struct PrettyIndentTests {
    /// Pretty text of nested lists built by hand: a newline and two spaces per level, deeper than the
    /// writer's run of spaces (64) so its indentation comes in several pieces.
    @Test func deepIndentationIsTwoSpacesPerLevel() {
        var value: JSON = "x"
        for _ in 0..<45 { value = [value, 1] }
        func expected(_ v: JSON, _ level: Int) -> String {
            guard case .array(let items) = v else { return v.serialized() }
            let pad = String(repeating: "  ", count: level + 1)
            return "[\n" + items.map { pad + expected($0, level + 1) }.joined(separator: ",\n") + "\n" + String(repeating: "  ", count: level) + "]"
        }
        #expect(value.pretty() == expected(value, 0))
        var pieces: [UInt8] = []
        var out = JSONChunks(limit: 5) { bytes in pieces += bytes }
        value.writePretty(to: &out)
        #expect((try? out.finish()) != nil)
        #expect(pieces == Array(expected(value, 0).utf8))
    }
}

@Suite struct WriteStringTests {
    /// The escapes as the byte-at-a-time rule gives them.
    static func reference(_ s: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x09: out += Array("\\t".utf8)
            case ..<0x20: out += Array(String(format: "\\u%04x", b).utf8)
            default: out.append(b)
            }
        }
        return out + [0x22]
    }

    /// Every byte to escape at every offset of the eight-byte words, beside ASCII and multi-byte text.
    @Test func escapesAtEveryOffsetOfAWord() throws {
        let specials = ["\"", "\\", "\n", "\r", "\t", "\u{00}", "\u{01}", "\u{1F}", "\u{7F}", "é", "✓", "🚲", " ", "!", "#", "[", "]", "~"]
        for special in specials {
            for offset in 0..<17 {
                for length in [offset + 1, offset + 9, 40] {
                    var chars = Array(repeating: "a", count: length)
                    chars[offset] = special
                    let s = chars.joined()
                    var out: [UInt8] = []
                    JSON.writeString(s, into: &out)
                    #expect(out == Self.reference(s), "\(special.unicodeScalars.map { $0.value }) at \(offset) of \(length)")
                    #expect(try JSONCodec.parse(out) == .string(s))
                }
            }
        }
        var out: [UInt8] = []
        JSON.writeString("", into: &out)
        #expect(out == [0x22, 0x22])
    }
}
