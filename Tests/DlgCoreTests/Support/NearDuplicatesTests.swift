// Near-duplicate questions: the shingles, the banding's recall (counted on simulated pairs), and the
// confirmation of every band match on the real sets.

@testable import DlgCore
import Foundation
import Testing

@Suite struct NearDuplicatesTests {
    @Test func punctuationCaseAndSpacingDoNotCount() {
        let a = NearDuplicates.shingles("How do I feed a sourdough starter?")
        #expect(a == NearDuplicates.shingles("how do i feed, a  SOURDOUGH starter"))
        #expect(a.count == 7)
        #expect(NearDuplicates.shingles("...?!").isEmpty)
        #expect(NearDuplicates.shingles("Is 3.5 kg—or 35 kg—right?").count == 7, "digits are tokens: is 3 5 kg or 35 right")
        #expect(NearDuplicates.shingles("Qu'est-ce que c'est ?") == NearDuplicates.shingles("qu est ce que c est"))
    }

    @Test func textWithoutSpacesGivesCharacterBigrams() {
        // 机器学习 (4 characters): 机器, 器学, 学习.
        #expect(NearDuplicates.shingles("机器学习").count == 3)
        #expect(NearDuplicates.shingles("机器学习？") == NearDuplicates.shingles("机器学习"))
        #expect(NearDuplicates.shingles("猫").count == 1)
        // Mixed: the Latin word is a token of its own.
        #expect(NearDuplicates.shingles("什么是Kubernetes的pod") == NearDuplicates.shingles("什么是 kubernetes 的 POD"))
        // A 20-character Japanese question with two characters added stays above 0.8.
        let q = "サワードウのスターターに毎日餌をやる理由"
        let longer = "サワードウのスターターに毎日必ず餌をやる理由"
        #expect(NearDuplicates.jaccard(NearDuplicates.shingles(q), NearDuplicates.shingles(longer)) >= 0.8)
    }

    @Test func twoWordsAddedToFifteenStayAboveEightTenths() {
        let q = "how long should i let my sourdough starter rest after feeding it before we bake"
        #expect(NearDuplicates.shingles(q).count == 15)
        let one = "how long should i let my young sourdough starter rest after feeding it before we bake"
        let two = "how long exactly should i let my young sourdough starter rest after feeding it before we bake"
        let s = NearDuplicates.shingles(q)
        #expect(NearDuplicates.jaccard(s, NearDuplicates.shingles(one)) == 15.0 / 16)
        #expect(NearDuplicates.jaccard(s, NearDuplicates.shingles(two)) == 15.0 / 17)
        #expect(NearDuplicates.jaccard(s, NearDuplicates.shingles("what flour makes the best rye bread")) < 0.2)
        #expect(NearDuplicates.jaccard([], []) == 0)
    }

    @Test func theBandingAtEightTenths() {
        let b = NearDuplicates.Banding(threshold: 0.8)
        #expect(b.rows == 6 && b.bands == 21)
        #expect(b.recall(0.8) > 0.998)
        #expect(b.recall(0.5) < 0.3, "false candidates at 0.5: \(b.recall(0.5))")
        for t in [0.5, 0.6, 0.7, 0.9, 0.95, 1.0] {
            #expect(NearDuplicates.Banding(threshold: t).recall(t) >= 0.99, "threshold \(t)")
        }
    }

    /// 2,000 pairs at Jaccard 0.8 exactly (16 shared shingles, 2 of each set's own): at least 99%
    /// share a band. Counted, not timed; a fixed seed, so the count is the same every run.
    @Test func atLeastNinetyNinePercentOfPairsAtTheThresholdAreCandidates() {
        let banding = NearDuplicates.Banding(threshold: 0.8)
        var rng = SeededGenerator(seed: 24)
        var found = 0
        for _ in 0..<2000 {
            let shared = (0..<16).map { _ in rng.next() }
            let a = Set(shared + [rng.next(), rng.next()]), b = Set(shared + [rng.next(), rng.next()])
            #expect(NearDuplicates.jaccard(a, b) == 0.8)
            let ba = NearDuplicates.bands(of: a, banding), bb = NearDuplicates.bands(of: b, banding)
            if zip(ba, bb).contains(where: { $0 == $1 }) { found += 1 }
        }
        #expect(found >= 1980, "\(found) of 2000 pairs at 0.8 became candidates")
    }

    @Test func aBandMatchIsConfirmedOnTheRealSets() {
        var index = NearIndex<Int>(threshold: 0.8)
        let stored = NearDuplicates.shingles("how do i feed a sourdough starter every day")
        index.add(1, set: stored, bands: NearDuplicates.bands(of: stored, index.banding))
        // The stored question's own bands, handed in with a set far from it: no match.
        let far = NearDuplicates.shingles("what is the best flour for rye bread")
        #expect(index.match(far, bands: NearDuplicates.bands(of: stored, index.banding), isLive: { _ in true }) == nil)
        let near = NearDuplicates.shingles("How do I feed a sourdough starter every single day?")
        let hit = index.match(near, bands: NearDuplicates.bands(of: near, index.banding), isLive: { _ in true })
        #expect(hit?.id == 1 && hit?.similarity == 9.0 / 10)
        #expect(index.match(near, bands: NearDuplicates.bands(of: near, index.banding), isLive: { _ in false }) == nil)
    }

    /// The work of a check, counted: a question met while probing is confirmed on its set only when
    /// its slot's fingerprint matches the band hash's, so a check confirms its true matches and
    /// almost nothing else, whatever the index's size (without the fingerprints, about 80 a check
    /// here). Every planted near duplicate is found, no distinct question is.
    /// The index grows (re-placing every question) on the way and stays compact: its own byte count
    /// per question is checked, not timed.
    @Test func aCheckConfirmsABoundedNumberOfCandidates() {
        var rng = SeededGenerator(seed: 24)
        func question() -> [String] { (0..<15).map { _ in "w\(rng.next() % 20_000)" } }
        var probe = NearIndexProbe(threshold: 0.8)
        var planted: [[String]] = []
        for i in 0..<20_000 {
            let q = question()
            if i % 100 == 0 { planted.append(q) }
            probe.add(q.joined(separator: " "))
        }
        #expect(probe.count == 20_000)
        #expect(probe.bytes / probe.count <= 256, "\(probe.bytes / probe.count) bytes a question")
        let before = probe.confirmed
        var found = 0, wrong = 0
        for q in planted {
            var longer = q
            longer.insert("extra", at: 7)
            if probe.check(longer.joined(separator: " ")) != nil { found += 1 }
            if probe.check(question().joined(separator: " ")) != nil { wrong += 1 }
        }
        #expect(found == planted.count && wrong == 0, "found \(found) of \(planted.count), \(wrong) distinct rejected")
        let perCheck = Double(probe.confirmed - before) / Double(2 * planted.count)
        #expect(perCheck >= 0.5 && perCheck <= 1, "\(perCheck) candidates confirmed per check")
    }
}

/// splitmix64: a seeded generator for simulations that must count the same every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return NearDuplicates.mix(state)
    }
}
