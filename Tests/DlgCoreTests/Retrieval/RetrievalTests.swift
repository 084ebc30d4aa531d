// Chunking of knowledge files and BM25 ranking.

@testable import DlgCore
import Foundation
import Testing

@Suite struct RetrievalTests {
    @Test func chunksSlideWithOverlapAndStableIDs() {
        let text = String(repeating: "abcdefghij", count: 30)   // 300 characters
        let chunks = KnowledgeBase.chunk(text: text, source: "a/b.md", size: 100, overlap: 20)
        #expect(chunks.map { $0.charStart } == [0, 80, 160, 240])
        #expect(chunks.last?.charEnd == 300)
        #expect(chunks[0].id.hasSuffix("-0") && chunks[0].id == KnowledgeBase.chunk(text: text, source: "a/b.md", size: 100, overlap: 20)[0].id)
        #expect(chunks[0].id != KnowledgeBase.chunk(text: text, source: "c.md", size: 100, overlap: 20)[0].id)
    }

    @Test func bm25RanksTheMatchingDocumentFirst() {
        let bm = BM25(documents: ["chain lubricant and chain wear", "compost needs browns and greens", "sourdough starter feeding"])
        let s = bm.scores("how often should I oil the chain")
        #expect(s[0] > s[1] && s[0] > s[2])
    }
}
