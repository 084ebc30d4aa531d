// LLMClient against the project's mock server in this process: replies and usage, the retry ladder,
// the JSON-mode step-down remembered per endpoint, an unreachable server, and a log without the key.

@testable import DlgCore
import DlgMock
import DlgTestSupport
import Foundation
import Testing

@Suite struct LLMClientTests {
    static let format = ResponseFormat.json(name: "kb_responder", schema: anyObjectSchema)

    /// Fault draws are seeded: with seed 3 and a rate of 0.5 the first request draws the fault and the
    /// second does not (units 0.005, then 0.541), so one retry is enough.
    static let faultThenCleanSeed: UInt64 = 3

    @Test func aChatCallReturnsContentAndUsage() async throws {
        try await withInProcessMock { server, baseURL in
            let client = LLMClient(logsDir: nil)
            let reply = try await client.chat(agent: testAgent(baseURL: baseURL), messages: responderMessages("How do I oil a chain?"),
                                              format: Self.format)
            let content = try #require(ReplyJSON.extract(reply.content), "\(reply.content)")
            #expect(content["assistant_message"]?.stringValue?.isEmpty == false)
            #expect(content["reasoning_trace"]?["question"] == "How do I oil a chain?")
            #expect(reply.usage.promptTokens > 0 && reply.usage.completionTokens > 0 && reply.usage.requests == 1)
            #expect(client.totalUsage == reply.usage)
            #expect(reply.model == "test-model" && reply.endpoint == "mock" && reply.finishReason == "stop")
            #expect(server.stats.chatCompletions == 1)
            #expect(server.stats.responseFormats["json_schema"] == 1, "json_schema is tried first")
            #expect(await client.checkModels(testAgent(baseURL: baseURL).endpoints[0]) == nil)
        }
    }

    @Test func a429IsRetriedAfterRetryAfter() async throws {
        let options = mockOptions { $0.seed = Self.faultThenCleanSeed; $0.faults.rateLimited = 0.5; $0.retryAfterSeconds = 1 }
        try await withInProcessMock(options) { server, baseURL in
            let work = try WorkDir(copyExamples: false, label: "llm-429")
            let client = LLMClient(logsDir: work.path)
            let started = Date()
            let reply = try await client.chat(agent: testAgent(baseURL: baseURL), messages: responderMessages("q?"), format: Self.format)
            let elapsed = Date().timeIntervalSince(started)
            #expect(!reply.content.isEmpty)
            let limited = server.stats.faults[.rateLimited] ?? 0
            #expect(limited >= 1)
            #expect(server.stats.chatCompletions == limited + 1, "every 429 was retried until one succeeded")
            // The first backoff step is at most 0.5 s: waiting a whole second is the server's Retry-After.
            #expect(elapsed >= 1.0, "waited \(elapsed) s")
            let log = try work.read("llm.log")
            #expect(log.contains("status=429") && log.contains("status=200"), "\(log)")
            #expect(client.totalUsage.requests == 1, "only the answered request counts")
        }
    }

    @Test func a500IsRetriedThenSucceeds() async throws {
        let options = mockOptions { $0.seed = Self.faultThenCleanSeed; $0.faults.serverError = 0.5 }
        try await withInProcessMock(options) { server, baseURL in
            let reply = try await LLMClient(logsDir: nil).chat(agent: testAgent(baseURL: baseURL), messages: responderMessages("q?"),
                                                               format: Self.format)
            #expect(ReplyJSON.extract(reply.content) != nil)
            let errors = server.stats.faults[.serverError] ?? 0
            #expect(errors >= 1)
            #expect(server.stats.chatCompletions == errors + 1)
        }
    }

    @Test func a500OnEveryAttemptIsABadReplyAfterMaxRetries() async throws {
        try await withInProcessMock(mockOptions { $0.faults.serverError = 1 }) { server, baseURL in
            do {
                _ = try await LLMClient(logsDir: nil).chat(agent: testAgent(baseURL: baseURL, maxRetries: 1),
                                                           messages: responderMessages("q?"), format: Self.format)
                Issue.record("expected a failure")
            } catch let error as LLMFailure {
                #expect(error.kind == .invalidReply, "\(error)")
                #expect(error.message.contains("HTTP 500"))
            }
            #expect(server.stats.chatCompletions == 2, "max_retries 1: two attempts")
        }
    }

    @Test func aJSONSchemaRefusalStepsDownAndIsRemembered() async throws {
        try await withInProcessMock(mockOptions { $0.jsonSchemaSupport = false }) { server, baseURL in
            let client = LLMClient(logsDir: nil)
            let agent = testAgent(baseURL: baseURL)
            let first = try await client.chat(agent: agent, messages: responderMessages("first?"), format: Self.format)
            #expect(ReplyJSON.extract(first.content) != nil)
            var stats = server.stats
            #expect(stats.responseFormats["json_schema"] == 1 && stats.unsupportedResponseFormat == 1)
            #expect(stats.responseFormats["json_object"] == 1, "sent again at once as json_object")
            #expect(stats.chatCompletions == 2)

            // The same client remembers: the second call goes out as json_object first.
            let second = try await client.chat(agent: agent, messages: responderMessages("second?"), format: Self.format)
            #expect(ReplyJSON.extract(second.content) != nil)
            stats = server.stats
            #expect(stats.responseFormats["json_schema"] == 1, "no second json_schema request")
            #expect(stats.responseFormats["json_object"] == 2)
            #expect(stats.chatCompletions == 3)

            // The memory belongs to the client (the process), not to the server.
            _ = try await LLMClient(logsDir: nil).chat(agent: agent, messages: responderMessages("third?"), format: Self.format)
            #expect(server.stats.responseFormats["json_schema"] == 2)
        }
    }

    @Test func anUnreachablePortIsUnavailableQuickly() async throws {
        let refused = try RefusedPort()
        let client = LLMClient(logsDir: nil)
        let agent = testAgent(baseURL: refused.baseURL, apiKey: "sk-unreachable-secret", maxRetries: 0, timeout: 60)
        do {
            _ = try await client.chat(agent: agent, messages: responderMessages("q?"), format: Self.format)
            Issue.record("expected a failure")
        } catch {
            #expect(error.kind == .unavailable, "\(error)")
            #expect(!error.message.contains("sk-unreachable-secret"))
            // Refused, not timed out, told by the failure itself: a wall-clock bound failed on a loaded
            // CI machine (31 s against 30), where a refusal can wait for a thread that long.
            #expect(error.message.contains("connection error") && !error.message.contains("timed out"), "\(error)")
        }
        #expect(await client.checkModels(agent.endpoints[0], timeout: 2) != nil)
        #expect(client.totalUsage.requests == 0)
    }

    /// A replica that died (its port refuses connections) is left out of routing: every call of a burst
    /// is served by the live one (with no retry allowed, so each failover was not a retry).
    @Test func aDeadReplicaIsLeftOutOfRoutingAndTheLiveOneServes() async throws {
        let refused = try RefusedPort()
        try await withInProcessMock { server, baseURL in
            var routed = testAgent(baseURL: baseURL, maxRetries: 0, timeout: 60)
            routed.endpoints = [Endpoint(name: "dead", baseURL: refused.baseURL, apiKey: "EMPTY", weight: 1, maxInFlight: 0, timeout: nil, model: ""),
                               Endpoint(name: "live", baseURL: baseURL, apiKey: "EMPTY", weight: 1, maxInFlight: 0, timeout: nil, model: "")]
            let agent = routed
            let client = LLMClient(logsDir: nil)
            // maxRetries 0: without the failover a call routed to the dead replica would fail.
            try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<40 {
                    group.addTask {
                        try await client.chat(agent: agent, messages: responderMessages("q\(i)?"), format: Self.format).endpoint
                    }
                }
                for try await endpoint in group { #expect(endpoint == "live") }
            }
            #expect(server.stats.chatCompletions == 40)
            // Struck, not "out of routing now": the 2 s window can pass before a busy machine gets here.
            #expect(client.router.struck(agent.endpoints) == ["dead"])
        }
    }

    @Test func theAPIKeyNeverReachesTheLog() async throws {
        let key = "sk-dlgtest-0123456789SECRET"
        let options = mockOptions { $0.seed = Self.faultThenCleanSeed; $0.faults.serverError = 0.5 }
        try await withInProcessMock(options) { server, baseURL in
            let work = try WorkDir(copyExamples: false, label: "llm-key")
            let client = LLMClient(logsDir: work.path)
            let agent = testAgent(baseURL: baseURL, apiKey: key)
            _ = try await client.chat(agent: agent, messages: responderMessages("q?"), format: Self.format)
            // A refused request logs the server's reply body; a server that echoes the key gets it redacted.
            _ = try? await client.chat(agent: testAgent(baseURL: baseURL + "/no-such-path", apiKey: key),
                                       messages: responderMessages("q?"), format: Self.format)
            #expect(server.stats.notFound == 1)
            let log = try work.read("llm.log")
            #expect(log.contains("status=500") && log.contains("status=200") && log.contains("status=404"), "\(log)")
            #expect(!log.contains("0123456789SECRET") && !log.contains(key), "\(log)")
        }
    }
}
