// Test harness: an in-process MockServer on port 0 and a small URLSession client.

import DlgMock
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A reply as the tests see it.
struct HTTPReply {
    var status: Int
    var headers: [AnyHashable: Any]
    var data: Data

    var text: String { String(decoding: data, as: UTF8.self) }

    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object: \(text)")
    }

    func header(_ name: String) -> String? {
        for (key, value) in headers where (key as? String)?.lowercased() == name.lowercased() { return value as? String }
        return nil
    }

    /// `choices[0].message`.
    func message() throws -> [String: Any] {
        let choices = try #require(try json()["choices"] as? [[String: Any]], "no choices: \(text)")
        return try #require(choices.first?["message"] as? [String: Any])
    }

    /// `choices[0].message.content` as a string.
    func content() throws -> String {
        try #require(try message()["content"] as? String, "no string content: \(text)")
    }

    /// `choices[0].message.content` parsed as a JSON object.
    func contentJSON() throws -> [String: Any] {
        let content = try content()
        return try #require(try JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any], "content is not a JSON object: \(content)")
    }
}

/// Talks to one running mock server.
struct MockClient {
    let port: Int
    let session: URLSession

    init(port: Int, timeout: TimeInterval = 10) {
        self.port = port
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration)
    }

    func send(_ method: String, _ path: String, body: Data? = nil, timeout: TimeInterval? = nil,
              headers: [String: String] = [:]) async throws -> HTTPReply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let timeout { request.timeoutInterval = timeout }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await session.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return HTTPReply(status: http.statusCode, headers: http.allHeaderFields, data: data)
    }

    func get(_ path: String) async throws -> HTTPReply {
        try await send("GET", path)
    }

    func post(_ path: String, _ object: [String: Any], timeout: TimeInterval? = nil) async throws -> HTTPReply {
        try await send("POST", path, body: try JSONSerialization.data(withJSONObject: object), timeout: timeout)
    }

    func chat(_ object: [String: Any], timeout: TimeInterval? = nil) async throws -> HTTPReply {
        try await post("/v1/chat/completions", object, timeout: timeout)
    }
}

/// Runs `body` against a fresh server with `options` (port 0), stopping it afterwards.
func withMockServer(_ options: MockOptions = MockOptions(), _ body: (MockClient, MockServer) async throws -> Void) async throws {
    let server = MockServer(options: options)
    let port = try await server.start()
    let client = MockClient(port: port)
    do {
        try await body(client, server)
    } catch {
        client.session.invalidateAndCancel()
        await server.stop()
        throw error
    }
    client.session.invalidateAndCancel()
    await server.stop()
}

/// Options with a tweak applied.
func mockOptions(_ change: (inout MockOptions) -> Void) -> MockOptions {
    var options = MockOptions()
    change(&options)
    return options
}

// MARK: Request builders

/// A qa_generator request whose prompt carries `snippet` (and a topic id).
func generatorRequest(snippet: String, topic: String = "billing-refunds", schema: Bool = true) -> [String: Any] {
    var request: [String: Any] = [
        "model": "test-model",
        "messages": [
            ["role": "system", "content": "You write user questions. agent: qa_generator"],
            ["role": "user", "content": "Knowledge snippets:\n[{\"topic_id\": \"\(topic)\", \"source\": \"handbook/billing.md\", \"text\": \"\(snippet)\"}]\nWrite one question."],
        ],
        "temperature": 0.7,
    ]
    if schema {
        request["response_format"] = ["type": "json_schema", "json_schema": ["name": "qa_generator", "strict": true, "schema": ["type": "object"]]]
    }
    return request
}

func vectorSearchTool() -> [String: Any] {
    ["type": "function", "function": ["name": "vector_db_search", "description": "Search the KB", "parameters": ["type": "object"]]]
}

/// A kb_responder request for `question`, optionally after a tool round trip.
func responderRequest(question: String, toolResult: String? = nil) -> [String: Any] {
    var messages: [[String: Any]] = [
        ["role": "system", "content": "You answer from the knowledge base. agent: kb_responder"],
        ["role": "user", "content": question],
    ]
    if let toolResult {
        messages.append(["role": "assistant", "content": NSNull(), "tool_calls": [[
            "id": "call_1", "type": "function",
            "function": ["name": "vector_db_search", "arguments": "{\"query\":\"q\",\"k\":3}"],
        ]]])
        messages.append(["role": "tool", "tool_call_id": "call_1", "content": toolResult])
    }
    return [
        "model": "test-model",
        "messages": messages,
        "tools": [vectorSearchTool()],
        "tool_choice": "auto",
        "response_format": ["type": "json_object"],
    ]
}

/// A judge request; the marker sits in the system message.
func judgeRequest(_ agent: String, extra: String = "") -> [String: Any] {
    [
        "model": "test-model",
        "messages": [
            ["role": "system", "content": "Rate the answer. agent: \(agent)\(extra)"],
            ["role": "user", "content": "Question: How do refunds work?\nAnswer: They are prorated."],
        ],
        "response_format": ["type": "json_object"],
    ]
}

/// Lowercased with whitespace collapsed, as the dedup stage compares questions.
func normalized(_ text: String) -> String {
    text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
}
