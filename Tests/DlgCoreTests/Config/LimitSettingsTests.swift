// The keys of the rate limits and adaptive concurrency: global, per routed endpoint, the default by
// backend, the broker's socket from the environment, and errors that name file:line: key.

import Foundation
import Testing
@testable import DlgCore

@Suite struct LimitSettingsTests {
    static let routed = """
        llm:
          backend: vllm_attach
          rate_limit: {requests_per_minute: 600, tokens_per_minute: 90000}
          routing:
            endpoints:
              - {name: gpu0, base_url: "http://127.0.0.1:9001", max_in_flight: 12, rate_limit: {requests_per_minute: 120}}
              - {name: gpu1, base_url: "http://127.0.0.1:9002"}

        """

    @Test func globalAndPerEndpointLimitsAndTheVLLMDefault() throws {
        let f = try ConfigFixture(Self.routed)
        defer { f.cleanup() }
        let s = try f.load(["DLGFORGE_LIMITS_SOCKET": "/tmp/run/limits.sock"])
        #expect(s.llmLayer.rateLimit == LLMLayerSettings.RateLimit(requestsPerMinute: 600, tokensPerMinute: 90000))
        #expect(s.llmLayer.adaptive.enabled, "on by default for vllm_attach")
        #expect(s.llmLayer.adaptive.min == 1 && s.llmLayer.adaptive.initial == 8)
        #expect(s.llmLayer.limitsSocket == "/tmp/run/limits.sock")
        let endpoints = s.agent(.qaGenerator).endpoints
        #expect(endpoints.map(\.maxInFlight) == [12, 64])
        #expect(endpoints[0].rateLimit == LLMLayerSettings.RateLimit(requestsPerMinute: 120))
        #expect(!endpoints[1].rateLimit.isSet)
        #expect(s.tree.unknownKeys.isEmpty, "\(s.tree.unknownKeys)")
    }

    @Test func offByDefaultForOpenAIAndTheKeyTurnsItOn() throws {
        let plain = try ConfigFixture("llm:\n  base_url: http://127.0.0.1:9/v1\n")
        defer { plain.cleanup() }
        let s = try plain.load()
        #expect(!s.llmLayer.adaptive.enabled && !s.llmLayer.rateLimit.isSet && s.llmLayer.limitsSocket == nil)
        let on = try ConfigFixture("llm:\n  base_url: http://127.0.0.1:9/v1\n  adaptive_concurrency: {enabled: true, min: 2, initial: 1}\n")
        defer { on.cleanup() }
        let t = try on.load()
        #expect(t.llmLayer.adaptive.enabled && t.llmLayer.adaptive.min == 2 && t.llmLayer.adaptive.initial == 2, "initial is at least min")
    }

    @Test func aBadLimitNamesTheFileLineAndKey() throws {
        let f = try ConfigFixture("llm:\n  base_url: http://127.0.0.1:9/v1\n  rate_limit:\n    requests_per_minute: 0\n")
        defer { f.cleanup() }
        #expect {
            _ = try f.load()
        } throws: { error in
            let m = (error as? DlgError)?.message ?? ""
            return m.contains("config.yaml:4") && m.contains("llm.rate_limit.requests_per_minute") && m.contains(">= 1")
        }
        let g = try ConfigFixture(Self.routed.replacingOccurrences(of: "rate_limit: {requests_per_minute: 120}", with: "rate_limit: {requests_per_hour: 5}"))
        defer { g.cleanup() }
        #expect {
            _ = try g.load()
        } throws: { error in
            let m = (error as? DlgError)?.message ?? ""
            return m.contains("config.yaml:") && m.contains("llm.routing.endpoints[0].rate_limit.requests_per_hour")
        }
    }
}
