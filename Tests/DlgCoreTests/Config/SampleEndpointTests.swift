// A dry run's sample (DLG_DRY_RUN_URL): every endpoint an agent could be sent to is the mock, with no
// key, and only a loopback URL is taken.

import Foundation
import Testing
@testable import DlgCore

@Suite struct SampleEndpointTests {
    static let yaml = """
    llm:
      base_url: https://api.example.com/v1
      api_key: sk-real-key-for-the-provider
      model: m
      agents:
        kb_responder:
          routing:
            endpoints:
              - {base_url: "https://gpu1.example.com/v1", api_key: sk-routed-key}
              - {base_url: "https://gpu2.example.com/v1"}
        qa_judge: {provider: groq, base_url: null}
    """

    @Test func everyEndpointOfEveryAgentIsTheMockWithNoKey() throws {
        let fixture = try ConfigFixture(Self.yaml)
        defer { fixture.cleanup() }
        let mock = "http://127.0.0.1:4321/v1"
        let plain = try fixture.load(["LLM_QA_GENERATOR_BASE_URL": "https://elsewhere.example.com/v1"])
        #expect(plain.agent(.kbResponder).endpoints.count == 2 && plain.agent(.qaGenerator).endpoints.first?.baseURL != mock)
        let sample = try fixture.load(["LLM_QA_GENERATOR_BASE_URL": "https://elsewhere.example.com/v1", SampleEndpoint.variable: mock])
        for agent in AgentName.allCases {
            let endpoints = sample.agent(agent).endpoints
            #expect(!endpoints.isEmpty, "\(agent): no endpoint")
            for e in endpoints { #expect(e.baseURL == mock && e.apiKey == "EMPTY", "\(agent): \(e.baseURL)") }
            // No key is needed in the sample: nothing makes an agent unusable there.
            #expect(sample.agent(agent).unusable == nil, "\(agent)")
        }
        #expect(sample.agent(.kbResponder).endpoints.count == 2, "the routing list keeps its shape")
        #expect(!sample.webSearchEnabled)
    }

    @Test func onlyALoopbackHTTPURLIsTaken() throws {
        let fixture = try ConfigFixture(Self.yaml)
        defer { fixture.cleanup() }
        for url in ["http://10.0.0.5:8080/v1", "https://127.0.0.1:4321/v1", "http://api.example.com/v1"] {
            #expect(throws: DlgError.self, "\(url)") { try fixture.load([SampleEndpoint.variable: url]) }
        }
        #expect(try fixture.load([SampleEndpoint.variable: ""]).agent(.qaGenerator).endpoints.first?.baseURL == "https://api.example.com/v1")
    }
}
