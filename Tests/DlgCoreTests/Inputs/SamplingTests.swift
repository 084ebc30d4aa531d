// Target turn counts and the persona cycle of new dialogues.

@testable import DlgCore
import Foundation
import Testing

@Suite struct SamplingTests {
    @Test func turnCountsStayInRange() {
        let run = RunSettings(nTurns: 2, batchSize: 1, totalSamples: 1, minTurns: 1, maxTurns: 3,
                              turnCountDistribution: "poisson", turnCountMean: 8, targetLanguages: ["en"],
                              seedQuestion: "", questionSeed: "", runID: "", resumeRunID: "", seedTopicsPath: "",
                              seedTopicsVariant: "", seedTopicsProbability: 0, seedTopicsEnabled: false,
                              distributedEnabled: false)
        var rng = SeededRandom("t")
        for dist in ["uniform", "poisson", "exponential"] {
            var r = run
            r.turnCountDistribution = dist
            let counts = (0..<200).map { _ in TurnCount.sample(r, rng: &rng) }
            #expect(counts.allSatisfy { (1...3).contains($0) })
        }
    }

    @Test func personaCycleUsesEveryPersonaOncePerRound() {
        let pool = Array(0..<5)
        let firstRound = (0..<5).map { PersonaPool.cyclePick(pool, slot: $0, seed: "s") }
        #expect(Set(firstRound).count == 5)
        let secondRound = (5..<10).map { PersonaPool.cyclePick(pool, slot: $0, seed: "s") }
        #expect(Set(secondRound).count == 5)
    }
}
