// The LLM client against the mock: routing choice and weights (upstream's tests/test_llm_routing.py),
// the response-format fallback remembered per endpoint (test_llm_client_response_format.py), attach
// health checks (test_distributed_provisioning.py), and replies as servers send them.

import DlgTestSupport
import Foundation
import Testing
@testable import DlgCore

/// `http://127.0.0.1:PORT`, the way upstream's sample writes a routed server (no /v1).
func root(_ mock: MockServerProcess) -> String { String(mock.baseURL.dropLast(3)) }

let userMessage: [ChatMessage] = [.obj(["role": "user", "content": "Say ok as JSON."])]

@Suite(.serialized) struct LLMConformanceTests {
    @Test func contentGivenAsTextPartsIsJoined() async throws {
        #expect(ReplyContent.text(["{\"a\":", .obj(["type": "text", "text": "1}"]), .obj(["type": "reasoning", "text": "x"])]) == "{\"a\":1}")
        try await withMock(["--content-parts"]) { mock in
            let s = try ConfigFile("llm:\n  base_url: \(mock.baseURL)\n  model: m\n").settings()
            let reply = try await LLMClient(logsDir: nil).chat(agent: s.agent(.qaGenerator), messages: userMessage, format: .text)
            #expect(reply.message["content"]?.arrayValue?.count == 2, "the mock sent parts: \(reply.message.serialized())")
            #expect((try? JSONCodec.parse(reply.content))?["answer"] == "ok", "joined: \(reply.content)")
        }
    }

    @Test func explicitBaseURLSendsTheModelAsWrittenWhateverTheProvider() async throws {
        try await withMock { mock in
            for provider in ["openai", "lm_studio", ""] {
                let s = try ConfigFile("llm:\n  agents:\n    user: {provider: \"\(provider)\", model: openai/gpt-oss-20b, base_url: \"\(mock.baseURL)\", api_key: EMPTY}\n").settings()
                try s.requireAgent(.qaGenerator)
                let reply = try await LLMClient(logsDir: nil).chat(agent: s.agent(.qaGenerator), messages: userMessage, format: .text)
                #expect(reply.model == "openai/gpt-oss-20b", "provider \(provider): sent \(reply.model)")
            }
        }
    }

    @Test func routedEndpointWithoutAPIPathIsCheckedAndCalledUnderV1() async throws {
        try await withMock { mock in
            let s = try ConfigFile("llm:\n  backend: vllm_attach\n  model: m\n  routing:\n    endpoints:\n      - {name: node1, base_url: \"\(root(mock))\"}\n").settings()
            let e = try #require(s.agent(.kbResponder).endpoints.first)
            #expect(e.baseURL == mock.baseURL && e.routed)
            let client = LLMClient(logsDir: nil)
            #expect(await client.checkModels(e) == nil)
            _ = try await client.chat(agent: s.agent(.kbResponder), messages: userMessage, format: .text)
            let stats = try await mock.stats()
            #expect(stats["models"] == 1 && stats["chat_completions"] == 1 && stats["not_found"] == 0, "\(stats.serialized())")
        }
    }

    @Test func attachWithoutEndpointsIsAnErrorNamingBackendAndMode() throws {
        for yaml in ["llm:\n  backend: vllm_attach\n  base_url: http://127.0.0.1:9/v1\n  model: m\n", "llm:\n  mode: vllm_attach\n  model: m\n"] {
            let message = try ConfigFile(yaml).configError { try $0.requireAgent(.qaGenerator) }
            #expect(message.contains("llm.backend") && message.contains("llm.mode") && message.contains("llm.routing.endpoints"), "\(message)")
        }
    }

    @Test func attachHealthCheckFailsOnAnUnhealthyEndpointAndNamesIt() async throws {
        let refused = try RefusedPort()
        let work = try WorkDir(label: "attach")
        try work.writeConfig("llm:\n  backend: vllm_attach\n  model: m\n  routing:\n    endpoints:\n      - {name: node1, base_url: \"http://127.0.0.1:\(refused.port)/v1\"}\n")
        let settings = try Settings.load(path: work.configPath, environment: [:])
        let orchestrator = RunOrchestrator(settings: settings, configPath: work.configPath, toolsDir: "/nonexistent")
        do {
            try await orchestrator.preflight(client: LLMClient(logsDir: nil))
            Issue.record("expected the preflight to fail")
        } catch {
            #expect(error.code == .unavailable && error.message.contains("node1"), "\(error)")
        }
    }

    @Test func responseFormatFallsBackAndTheEndpointRemembersIt() async throws {
        try await withMock(["--no-json-schema-support", "--no-json-object-support"]) { mock in
            let s = try ConfigFile("llm:\n  base_url: \(mock.baseURL)\n  model: m\n").settings()
            let client = LLMClient(logsDir: nil)
            let format = ResponseFormat.json(name: "answer", schema: .obj(["type": "object"]))
            _ = try await client.chat(agent: s.agent(.qaGenerator), messages: userMessage, format: format)
            var stats = try await mock.stats()
            #expect(stats["unsupported_response_format"] == 2 && stats["response_format"]?["none"] == 1, "\(stats.serialized())")
            _ = try await client.chat(agent: s.agent(.qaGenerator), messages: userMessage, format: format)
            stats = try await mock.stats()
            #expect(stats["unsupported_response_format"] == 2 && stats["response_format"]?["none"] == 2, "the second call starts with text: \(stats.serialized())")
        }
    }

    @Test func routingFollowsTheWeights() async throws {
        try await withMock(["--latency-ms", "40"]) { heavy in
            try await withMock(["--latency-ms", "40"]) { light in
                let s = try ConfigFile("""
                llm:
                  model: m
                  routing:
                    endpoints:
                      - {name: heavy, base_url: "\(heavy.baseURL)", weight: 3}
                      - {name: light, base_url: "\(light.baseURL)", weight: 1}
                """).settings()
                let agent = s.agent(.qaGenerator)
                let client = LLMClient(logsDir: nil)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<40 {
                        group.addTask { _ = try await client.chat(agent: agent, messages: userMessage, format: .text) }
                    }
                    try await group.waitForAll()
                }
                let h = try await heavy.stats()["chat_completions"]?.intValue ?? 0
                let l = try await light.stats()["chat_completions"]?.intValue ?? 0
                #expect(h + l == 40)
                // Weighted least in-flight: with equal latency, in-flight load settles near 3:1.
                #expect(h >= 2 * l && l >= 5, "heavy \(h), light \(l)")
            }
        }
    }

    @Test func saturatedEndpointIsAvoided() async throws {
        try await withMock(["--latency-ms", "150"]) { small in
            try await withMock(["--latency-ms", "150"]) { big in
                let s = try ConfigFile("""
                llm:
                  model: m
                  routing:
                    endpoints:
                      - {name: small, base_url: "\(small.baseURL)", weight: 10, max_in_flight: 2}
                      - {name: big, base_url: "\(big.baseURL)", weight: 1}
                """).settings()
                let agent = s.agent(.qaGenerator)
                let client = LLMClient(logsDir: nil)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<12 {
                        group.addTask { _ = try await client.chat(agent: agent, messages: userMessage, format: .text) }
                    }
                    try await group.waitForAll()
                }
                let onSmall = try await small.stats()["chat_completions"]?.intValue ?? 0
                // The heavier endpoint takes work only up to its max_in_flight while the rest waits elsewhere.
                #expect(onSmall >= 2 && onSmall <= 6, "small got \(onSmall) of 12")
            }
        }
    }
}
