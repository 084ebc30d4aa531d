// The HTTP surface: models, embeddings, stats, errors.

import DlgMock
import Foundation
import Testing

@Suite struct ProtocolTests {
    @Test func listsTheConfiguredModel() async throws {
        try await withMockServer(mockOptions { $0.model = "tiny-mock" }) { client, _ in
            let reply = try await client.get("/v1/models")
            #expect(reply.status == 200)
            #expect(reply.header("content-type") == "application/json")
            #expect(reply.text == #"{"object":"list","data":[{"id":"tiny-mock","object":"model","owned_by":"dlg-mock"}]}"#)
        }
    }

    @Test func apiKeyGuardsV1ButNotHealth() async throws {
        try await withMockServer(mockOptions { $0.apiKey = "k-123" }) { client, _ in
            let health = try await client.get("/health")
            let bare = try await client.get("/v1/models")
            let wrong = try await client.send("GET", "/v1/models", headers: ["Authorization": "Bearer wrong"])
            let right = try await client.send("GET", "/v1/models", headers: ["Authorization": "Bearer k-123"])
            #expect(health.status == 200 && bare.status == 401 && wrong.status == 401 && right.status == 200)
            #expect(!bare.text.contains("k-123"))
        }
        try await withMockServer { client, _ in
            let open = try await client.get("/v1/models")
            let health = try await client.get("/health")
            #expect(open.status == 200 && health.status == 200)
        }
    }

    @Test func unknownPathIs404AndWrongMethodIs405() async throws {
        try await withMockServer { client, _ in
            let missing = try await client.get("/v2/nothing")
            #expect(missing.status == 404)
            #expect(try missing.json()["error"] as? [String: Any] != nil)
            let wrongMethod = try await client.get("/v1/chat/completions")
            #expect(wrongMethod.status == 405)
        }
    }

    @Test(arguments: ["{\"model\":", "[1,2]", "{\"messages\":[]}", "{\"messages\":[{\"content\":\"no role\"}]}", ""])
    func malformedBodiesAre400(body: String) async throws {
        try await withMockServer { client, _ in
            let reply = try await client.send("POST", "/v1/chat/completions", body: Data(body.utf8))
            #expect(reply.status == 400)
            let error = try #require(try reply.json()["error"] as? [String: Any])
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error["message"] as? String != nil)
        }
    }

    @Test func embeddingsAreDeterministicUnitVectors() async throws {
        try await withMockServer { client, _ in
            let texts = ["Refunds for annual plans are prorated", "annual plans refunds policy", "GPU drivers crash on boot", ""]
            let reply = try await client.post("/v1/embeddings", ["model": "embed", "input": texts])
            #expect(reply.status == 200)
            let json = try reply.json()
            #expect(json["model"] as? String == "embed")
            let data = try #require(json["data"] as? [[String: Any]])
            #expect(data.count == texts.count)
            let vectors = try data.enumerated().map { index, item -> [Double] in
                #expect(item["index"] as? Int == index)
                #expect(item["object"] as? String == "embedding")
                return try #require(item["embedding"] as? [Double])
            }
            for vector in vectors {
                #expect(vector.count == 64)
                let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(abs(norm - 1) < 1e-5)
            }
            func cosine(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
            #expect(cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]))
            let usage = try #require(json["usage"] as? [String: Any])
            #expect((usage["prompt_tokens"] as? Int ?? 0) > 0)

            let single = try await client.post("/v1/embeddings", ["input": texts[0]])
            let again = try #require((try single.json()["data"] as? [[String: Any]])?.first?["embedding"] as? [Double])
            #expect(again == vectors[0])

            let bad = try await client.post("/v1/embeddings", ["input": [1, 2, 3]])
            #expect(bad.status == 400)
        }
    }

    @Test func statsCountAndReset() async throws {
        try await withMockServer { client, server in
            _ = try await client.chat(generatorRequest(snippet: "Invoices are generated monthly."))
            _ = try await client.chat(responderRequest(question: "How do refunds work?"))
            _ = try await client.chat(judgeRequest("qa_judge"))
            _ = try await client.chat(["messages": [["role": "user", "content": "hi"]]])
            _ = try await client.get("/v1/models")
            let stats = try await client.get("/stats").json()
            #expect(stats["requests"] as? Int == 5)
            #expect(stats["chat_completions"] as? Int == 4)
            #expect(stats["tool_calls"] as? Int == 1)
            let agents = try #require(stats["agents"] as? [String: Int])
            #expect(agents == ["qa_generator": 1, "kb_responder": 1, "qa_judge": 1, "conversation_judge": 0, "unknown": 1])
            let formats = try #require(stats["response_format"] as? [String: Int])
            #expect(formats == ["json_schema": 1, "json_object": 2, "none": 1])
            #expect(server.stats.agents[.kbResponder] == 1)

            let reset = try await client.post("/stats/reset", [:])
            #expect(reset.status == 200)
            #expect(try await client.get("/stats").json()["requests"] as? Int == 0)
        }
    }

    @Test func invalidOptionsAreRejectedAtStart() async throws {
        let server = MockServer(options: mockOptions { $0.faults.rateLimited = 0.7; $0.faults.drop = 0.6 })
        await #expect(throws: MockServerError.self) { _ = try await server.start() }
    }
}
