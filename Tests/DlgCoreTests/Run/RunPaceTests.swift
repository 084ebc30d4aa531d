// The run's pace: a rate over a recent window on a fake clock, the ETA, the projected cost.

@testable import DlgCore
import Foundation
import Testing

@Suite struct RunPaceTests {
    @Test func theRateNeedsTwoSamplesASecondApart() {
        var pace = RunPace(window: 60)
        #expect(pace.perMinute(at: 0) == nil)
        pace.record(completed: 0, at: 0)
        #expect(pace.perMinute(at: 0.5) == nil)
        pace.record(completed: 3, at: 30)
        #expect(pace.perMinute(at: 30) == 6)
        #expect(pace.eta(remaining: 12, at: 30) == 120)
        #expect(pace.eta(remaining: 0, at: 30) == 0)
    }

    @Test func theRateFollowsTheRecentWindow() {
        var pace = RunPace(window: 60)
        // Fast at first (10 a minute), then stalled for two minutes.
        for t in stride(from: 0, through: 60, by: 6) { pace.record(completed: t / 6, at: Double(t)) }
        #expect(pace.perMinute(at: 60) == 10)
        for t in stride(from: 66, through: 180, by: 6) { pace.record(completed: 10, at: Double(t)) }
        let late = pace.perMinute(at: 180) ?? -1
        #expect(late == 0, "the early burst fell out of the window: \(late)")
        #expect(pace.eta(remaining: 5, at: 180) == nil, "no pace, no promise")
    }

    @Test func theProjectedCostScalesTheCostSoFar() {
        #expect(RunPace.projectedCost(costSoFar: 1.5, completed: 3, target: 12) == 6)
        #expect(RunPace.projectedCost(costSoFar: 2, completed: 4, target: 2) == 2, "never below what was spent")
        #expect(RunPace.projectedCost(costSoFar: 0.3, completed: 0, target: 5) == nil)
    }

    /// A run that completes one dialogue every 3 s (20 a minute) with 100 to go has 300 s left.
    @Test func aRunOfKnownPaceGetsTheRightETA() throws {
        var pace = RunPace(window: 120)
        var t = 1_000.0
        for done in 0...60 {
            pace.record(completed: done, at: t)
            t += 3
        }
        let now = t - 3
        let rate = try #require(pace.perMinute(at: now))
        #expect(abs(rate - 20) / 20 < 0.1, "rate \(rate)")
        let eta = try #require(pace.eta(remaining: 100, at: now))
        #expect(abs(eta - 300) / 300 < 0.1, "eta \(eta)")
    }
}
