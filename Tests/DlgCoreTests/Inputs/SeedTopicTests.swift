// Seed topics: each seed question serves one slot.

@testable import DlgCore
import Foundation
import Testing

@Suite struct SeedTopicTests {
    @Test func eachSeedQuestionServesOneSlot() {
        let topics = SeedTopics(topics: [("bikes", ["b1", "b2"]), ("compost", ["c1"]), ("bread", ["d1", "d2", "d3"])])
        let picks = (0..<8).map { topics.question(forSlot: $0)?.question }
        #expect(picks == ["b1", "c1", "d1", "b2", "d2", "d3", nil, nil])
    }
}
