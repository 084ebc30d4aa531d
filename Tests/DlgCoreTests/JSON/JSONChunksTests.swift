// JSON text written through JSONChunks: the same bytes as written whole, in pieces of bounded size.

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
