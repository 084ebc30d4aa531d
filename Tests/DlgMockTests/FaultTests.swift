// Injected faults, response_format support switches and latency.

@testable import DlgMock
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct FaultTests {
    @Test func rateLimitCarriesRetryAfter() async throws {
        try await withMockServer(mockOptions { $0.faults.rateLimited = 1; $0.retryAfterSeconds = 7 }) { client, server in
            let reply = try await client.chat(generatorRequest(snippet: "Anything."))
            #expect(reply.status == 429)
            #expect(reply.header("retry-after") == "7")
            let error = try #require(try reply.json()["error"] as? [String: Any])
            #expect(error["code"] as? String == "rate_limit_exceeded")
            #expect(server.stats.faults[.rateLimited] == 1)
        }
    }

    @Test func serverErrorIs500() async throws {
        try await withMockServer(mockOptions { $0.faults.serverError = 1 }) { client, _ in
            let reply = try await client.post("/v1/embeddings", ["input": "hello"])
            #expect(reply.status == 500)
            #expect(try reply.json()["error"] != nil)
        }
    }

    @Test func faultRatesAreRoughlyHonoured() async throws {
        try await withMockServer(mockOptions { $0.faults.rateLimited = 0.3 }) { client, _ in
            var limited = 0
            for i in 0..<100 where try await client.chat(judgeRequest("qa_judge", extra: "\(i)")).status == 429 {
                limited += 1
            }
            #expect((15...45).contains(limited))
        }
    }

    @Test func jsonSchemaCanBeSwitchedOff() async throws {
        try await withMockServer(mockOptions { $0.jsonSchemaSupport = false }) { client, server in
            let reply = try await client.chat(generatorRequest(snippet: "Anything."))
            #expect(reply.status == 400)
            #expect(reply.text == #"{"error":{"message":"response_format json_schema is not supported","type":"invalid_request_error","param":"response_format","code":null}}"#)
            // json_object and no response_format still work.
            #expect(try await client.chat(generatorRequest(snippet: "Anything.", schema: false)).status == 200)
            #expect(try await client.chat(judgeRequest("qa_judge")).status == 200)
            #expect(server.stats.unsupportedResponseFormat == 1)
        }
    }

    @Test func seedCanBeRefused() async throws {
        try await withMockServer(mockOptions { $0.seedSupport = false }) { client, _ in
            var request = generatorRequest(snippet: "Anything.")
            request["seed"] = 5
            let reply = try await client.chat(request)
            #expect(reply.status == 400)
            let error = try #require(try reply.json()["error"] as? [String: Any])
            #expect(error["message"] as? String == "Unrecognized request argument supplied: seed")
            #expect(error["param"] as? String == "seed")
            #expect(try await client.chat(generatorRequest(snippet: "Anything.")).status == 200)
        }
    }

    @Test func aSeedThatIsNotAnIntegerIsABadRequest() async throws {
        try await withMockServer { client, _ in
            var request = generatorRequest(snippet: "Anything.")
            request["seed"] = "five"
            let reply = try await client.chat(request)
            #expect(reply.status == 400)
        }
    }

    @Test func jsonObjectCanBeSwitchedOff() async throws {
        try await withMockServer(mockOptions { $0.jsonObjectSupport = false }) { client, _ in
            let reply = try await client.chat(judgeRequest("qa_judge"))
            #expect(reply.status == 400)
            let error = try #require(try reply.json()["error"] as? [String: Any])
            #expect(error["message"] as? String == "response_format json_object is not supported")
            #expect(error["param"] as? String == "response_format")
        }
    }

    @Test func malformedContentIsNotJSON() async throws {
        try await withMockServer(mockOptions { $0.faults.malformed = 1 }) { client, _ in
            let reply = try await client.chat(generatorRequest(snippet: "Anything."))
            #expect(reply.status == 200)
            let content = try reply.content()
            #expect(content.hasPrefix("Sure! Here is the answer: {"))
            #expect((try? JSONSerialization.jsonObject(with: Data(content.utf8))) == nil)
        }
    }

    @Test func truncatedContentIsCut() async throws {
        try await withMockServer(mockOptions { $0.faults.truncated = 1 }) { client, server in
            let content = try await client.chat(generatorRequest(snippet: "Anything.")).content()
            #expect(content.hasPrefix("{\""))
            #expect((try? JSONSerialization.jsonObject(with: Data(content.utf8))) == nil)
            #expect(server.stats.faults[.truncated] == 1)
        }
    }

    @Test func missingFieldsDropTheMainField() async throws {
        try await withMockServer(mockOptions { $0.faults.missingFields = 1 }) { client, _ in
            let reply84 = try await client.chat(generatorRequest(snippet: "Anything.")).contentJSON()
            #expect(reply84["user_message"] == nil)
            let reply85 = try await client.chat(judgeRequest("qa_judge")).contentJSON()
            #expect(reply85["score"] == nil)
            var responder = responderRequest(question: "Why?")
            responder["tools"] = nil
            let reply88 = try await client.chat(responder).contentJSON()
            #expect(reply88["assistant_message"] == nil)
        }
    }

    @Test func wrongTypes() async throws {
        try await withMockServer(mockOptions { $0.faults.wrongTypes = 1 }) { client, _ in
            #expect(try await client.chat(judgeRequest("qa_judge")).contentJSON()["score"] as? String == "high")
            let generated = try await client.chat(generatorRequest(snippet: "Anything.")).contentJSON()
            #expect(generated["user_message"] is NSNumber)
        }
    }

    @Test func emptyEchoAndWrongLanguage() async throws {
        let question = "Can I pause my subscription for two months?"
        try await withMockServer(mockOptions { $0.faults.empty = 1; $0.toolCalls = false }) { client, _ in
            let reply103 = try await client.chat(responderRequest(question: question)).contentJSON()
            #expect(reply103["assistant_message"] as? String == "")
            let reply104 = try await client.chat(generatorRequest(snippet: "Anything.")).contentJSON()
            #expect(reply104["user_message"] as? String == "")
        }
        try await withMockServer(mockOptions { $0.faults.echo = 1; $0.toolCalls = false }) { client, _ in
            let reply107 = try await client.chat(responderRequest(question: question)).contentJSON()
            #expect(reply107["assistant_message"] as? String == question)
        }
        try await withMockServer(mockOptions { $0.faults.wrongLanguage = 1; $0.toolCalls = false }) { client, server in
            let answer = try await client.chat(responderRequest(question: question)).contentJSON()["assistant_message"] as? String
            #expect(answer?.contains("Dokumentation") == true)
            #expect(server.stats.faults[.wrongLanguage] == 1)
        }
    }

    @Test func dropClosesWithoutAnswer() async throws {
        try await withMockServer(mockOptions { $0.faults.drop = 1 }) { client, server in
            await #expect(throws: (any Error).self) { _ = try await client.chat(judgeRequest("qa_judge")) }
            #expect(server.stats.faults[.drop, default: 0] >= 1)
        }
    }

    @Test func timeoutHoldsTheRequest() async throws {
        try await withMockServer(mockOptions { $0.faults.timeout = 1 }) { client, server in
            let start = ContinuousClock.now
            // Whole seconds: FoundationNetworking rounds request timeouts down.
            await #expect(throws: (any Error).self) { _ = try await client.chat(judgeRequest("qa_judge"), timeout: 1) }
            #expect(ContinuousClock.now - start >= .milliseconds(900))
            // The server itself stays responsive.
            let models = try await client.get("/v1/models")
            #expect(models.status == 200)
            #expect(server.stats.faults[.timeout, default: 0] >= 1)
        }
    }

    @Test func latencyIsScheduledNotSlept() async throws {
        try await withMockServer(mockOptions { $0.latencyMs = 300 }) { client, server in
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<40 {
                    group.addTask { try await client.chat(judgeRequest("qa_judge", extra: "\(i)")).status }
                }
                for try await status in group { #expect(status == 200) }
            }
            #expect(ContinuousClock.now - start >= .milliseconds(290), "the latency was applied")
            // Counted, not timed (a busy machine stretches any timing): a reply slept on the server's one
            // event loop thread would hold every other request back, one in flight at a time; scheduled,
            // the requests wait for their latency side by side.
            #expect(server.stats.inFlightPeak >= 2, "at most \(server.stats.inFlightPeak) of 40 requests in flight at once")
        }
    }

    /// The latency the engine schedules, drawn for 4,000 requests without a network in the way (a timing
    /// over HTTP measured the machine's load more than the distribution).
    @Test func exponentialLatencyAveragesTheMean() throws {
        let engine = MockEngine(options: mockOptions { $0.latencyMs = 20; $0.latencyDistribution = .exponential })
        let body = try JSONSerialization.data(withJSONObject: judgeRequest("qa_judge"))
        var total: Int64 = 0, longest: Int64 = 0
        let n = 4000
        for _ in 0..<n {
            let outcome = body.withUnsafeBytes { engine.handle(method: "POST", path: "/v1/chat/completions", body: $0) }
            guard case .respond(_, let delay) = outcome else { Issue.record("not a response: \(outcome)"); return }
            total += delay
            longest = max(longest, delay)
        }
        let meanMs = Double(total) / Double(n) / 1e6
        #expect(abs(meanMs - 20) < 2, "mean latency \(meanMs) ms")
        // Exponential, not fixed: a long tail (the 4,000th longest of an exponential of mean 20 is ~165 ms).
        #expect(Double(longest) / 1e6 > 80, "longest \(Double(longest) / 1e6) ms")
    }
}
