import Foundation
import Testing
@testable import DlgCore

/// `KnowledgeBase.chunk` walks the text's indices instead of building an array of its Characters (16
/// bytes each); the chunks must be those of the array version, which the persisted indexes were built with.
@Suite struct ChunkWalkTests {
    /// The array-of-Characters version the walk replaced.
    static func reference(text: String, source: String, size: Int, overlap: Int) -> [Chunk] {
        let chars = Array(text)
        let step = max(1, size - overlap)
        let idBase = String(SHA256.hex(source).prefix(16))
        var out: [Chunk] = []
        var start = 0
        while start < chars.count {
            let end = min(chars.count, start + size)
            let piece = String(chars[start..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
            if !piece.isEmpty {
                out.append(Chunk(id: "\(idBase)-\(out.count)", text: piece, source: source, chunkIndex: out.count,
                                 charStart: start, charEnd: end))
            }
            if end == chars.count { break }
            start += step
        }
        return out
    }

    static func same(_ a: [Chunk], _ b: [Chunk]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy {
            $0.id == $1.id && $0.text == $1.text && $0.chunkIndex == $1.chunkIndex && $0.charStart == $1.charStart && $0.charEnd == $1.charEnd
        }
    }

    @Test(arguments: [(100, 20), (10, 0), (7, 3), (5, 5), (5, 9), (1, 0), (600, 100), (12, 11)])
    func theWalkCutsTheChunksOfTheArrayVersion(size: Int, overlap: Int) {
        var texts = ["", " ", "a", "short", String(repeating: "word ", count: 97),
                     "Grüße aus Köln 🇩🇪👩‍👩‍👧 e\u{301}te\u{301} 日本語のテキスト。\n\n   \n" + String(repeating: "x", count: 31)]
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab c\n\té🙂\u{301}  ")
        for n in [13, 50, 101, 333] { texts.append(String((0..<n).map { _ in alphabet.randomElement(using: &rng)! })) }
        for text in texts {
            let walked = KnowledgeBase.chunk(text: text, source: "k/doc.md", size: size, overlap: overlap)
            let expected = Self.reference(text: text, source: "k/doc.md", size: size, overlap: overlap)
            #expect(Self.same(walked, expected), "size \(size) overlap \(overlap) text \(text.debugDescription.prefix(80)): \(walked.count) vs \(expected.count) chunks")
        }
    }
}
