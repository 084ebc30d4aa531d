// When the share of failed calls trips the error storm, and what its message says.

@testable import DlgCore
import Foundation
import Testing

@Suite struct ErrorStormTests {
    static func settings(window: Int = 10, rate: Double = 0.5, minCalls: Int = 6) -> LLMLayerSettings.ErrorStormSettings {
        var s = LLMLayerSettings.ErrorStormSettings()
        s.window = window
        s.maxFailureRate = rate
        s.minCalls = minCalls
        return s
    }

    @Test func tripsOnlyOnceTheWindowHoldsMinCallsAndTheRatePassesTheThreshold() {
        let storm = ErrorStorm(Self.settings())
        for _ in 0..<5 { storm.failure(endpoint: "local", error: "HTTP 500") }
        #expect(storm.tripped == nil, "5 calls are fewer than min_calls 6")
        storm.failure(endpoint: "local", error: "HTTP 500")
        let message = storm.tripped
        #expect(message != nil)
        #expect(message?.contains("6 of the last 6") == true, "\(message ?? "")")
        #expect(message?.contains("endpoint local: HTTP 500 (6 times)") == true, "\(message ?? "")")
        // Tripped for good: successes after it change nothing.
        for _ in 0..<20 { storm.success() }
        #expect(storm.tripped == message)
    }

    @Test func aFlakyServerBelowTheThresholdNeverTrips() {
        let storm = ErrorStorm(Self.settings())
        // 2 failures in every 5 calls: 40% < 50% in every window of 10 (and at most 50% in the first ones).
        for i in 0..<500 {
            if i % 5 >= 3 { storm.failure(endpoint: "a", error: "timed out") } else { storm.success() }
        }
        #expect(storm.tripped == nil)
        // The window slides: a burst after a long healthy stretch trips within one window.
        var burst = 0
        while storm.tripped == nil && burst < 10 {
            storm.failure(endpoint: "a", error: "connection error (refused)")
            burst += 1
        }
        // The window held 4 failures of 10: 2 more make 6 of 10.
        #expect(burst == 2)
        #expect(storm.tripped?.contains("6 of the last 10") == true && storm.tripped?.contains("1 other error(s)") == true,
                "\(storm.tripped ?? "")")
    }

    @Test func theMostFrequentErrorIsNamedWithTheOthersCounted() {
        let storm = ErrorStorm(Self.settings(window: 8, rate: 0.7, minCalls: 8))
        for _ in 0..<5 { storm.failure(endpoint: "gpu1", error: "HTTP 503") }
        for _ in 0..<3 { storm.failure(endpoint: "gpu2", error: "timed out") }
        let message = storm.tripped ?? ""
        #expect(message.contains("endpoint gpu1: HTTP 503 (5 times) and 1 other error(s)"), "\(message)")
    }

    @Test func disabledNeverTrips() {
        var s = Self.settings()
        s.enabled = false
        let storm = ErrorStorm(s)
        for _ in 0..<100 { storm.failure(endpoint: "a", error: "HTTP 500") }
        #expect(storm.tripped == nil)
    }
}
