// The project's mock OpenAI-compatible server, run inside the test process on a free port, and agent
// settings that point at it: core types meet a real HTTP server without a binary being spawned.

@testable import DlgCore
import DlgMock
import Foundation
import Testing

/// Runs `body` against a fresh mock with `options`, stopping it afterwards. `body` gets the server
/// (for its request counters) and its base URL (`http://127.0.0.1:<port>/v1`).
func withInProcessMock(_ options: MockOptions = MockOptions(),
                       _ body: (MockServer, String) async throws -> Void) async throws {
    let server = MockServer(options: options)
    let port = try await server.start()
    do {
        try await body(server, "http://127.0.0.1:\(port)/v1")
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

/// Mock options with a change applied.
func mockOptions(_ change: (inout MockOptions) -> Void) -> MockOptions {
    var options = MockOptions()
    change(&options)
    return options
}

/// An agent with one endpoint at `baseURL`.
func testAgent(_ name: AgentName = .kbResponder, baseURL: String, apiKey: String = "EMPTY", maxRetries: Int = 2,
               timeout: Double = 10) -> AgentSettings {
    AgentSettings(agent: name, backend: "openai", provider: "", model: "test-model", temperature: nil, maxTokens: nil,
                  topP: nil, timeout: timeout, maxRetries: maxRetries, extra: JSONObject(),
                  endpoints: [Endpoint(name: "mock", baseURL: baseURL, apiKey: apiKey, weight: 1, maxInFlight: 0,
                                       timeout: nil, model: "")])
}

/// A kb_responder prompt the mock answers from its last user message.
func responderMessages(_ question: String) -> [ChatMessage] {
    [.obj(["role": "system", "content": "You answer from the knowledge base. agent: kb_responder"]),
     .obj(["role": "user", "content": .string("Question: \(question)")])]
}

/// A loose schema: the mock picks the agent from the schema's name.
let anyObjectSchema: JSON = .obj(["type": "object"])
