// The one agent-call loop (repair, validation retries, tool rounds, early end) against the project's
// mock server in this process. The mock's kb_responder restates the last user message as its trace's
// `question`, so what the loop sent last can be read back from what it returns.

@testable import DlgCore
import DlgMock
import DlgTestSupport
import Foundation
import Testing

/// What a tool handler was called with.
final class ToolCalls: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(String, JSONObject)] = []
    func add(_ name: String, _ arguments: JSONObject) { lock.withLock { calls.append((name, arguments)) } }
    var all: [(String, JSONObject)] { lock.withLock { calls } }
}

@Suite struct AgentCallerTests {
    static func call(_ caller: AgentCaller, _ agent: AgentSettings, question: String = "How do I oil a chain?",
                     tools: AgentTools? = nil,
                     validate: (JSONObject) -> Result<JSONObject, DropReason> = { .success($0) }) async -> Result<AgentCaller.Success, AgentCaller.Failure> {
        await caller.callJSON(agent: agent, messages: responderMessages(question), schemaName: "kb_responder",
                              schema: anyObjectSchema, label: "test", tools: tools, validate: validate)
    }

    @Test func aReplyThatIsNotJSONGetsOneRepairRequest() async throws {
        // Seed 3, rate 0.5: the first reply is chatty prose around a cut-off object, the second is clean.
        let options = mockOptions { $0.seed = LLMClientTests.faultThenCleanSeed; $0.faults.malformed = 0.5 }
        try await withInProcessMock(options) { server, baseURL in
            let caller = AgentCaller(client: LLMClient(logsDir: nil))
            let success = try await Self.call(caller, testAgent(baseURL: baseURL)).get()
            #expect(server.stats.faults[.malformed] == 1)
            #expect(server.stats.chatCompletions == 2)
            #expect(success.output["reasoning_trace"]?["question"]?.stringValue == AgentCaller.repairPrompt,
                    "the second request ended with the repair prompt")
            #expect(success.usage.requests == 2, "both replies are paid for")
        }
    }

    @Test func aReplyThatStaysUnreadableEndsTheAttemptAfterOneRepair() async throws {
        try await withInProcessMock(mockOptions { $0.faults.malformed = 1 }) { server, baseURL in
            var caller = AgentCaller(client: LLMClient(logsDir: nil))
            caller.attempts = 2
            let result = await Self.call(caller, testAgent(baseURL: baseURL))
            guard case .failure(let failure) = result else { Issue.record("expected a failure"); return }
            #expect(failure.reason == .invalidOutput)
            #expect(failure.detail.hasPrefix("reply is not a JSON object: Sure!"), "\(failure.detail)")
            #expect(server.stats.chatCompletions == 4, "2 attempts x (request + one repair)")
            #expect(failure.usage.requests == 4)
        }
    }

    @Test func aValidationFailureRetriesWithTheNote() async throws {
        try await withInProcessMock { server, baseURL in
            let caller = AgentCaller(client: LLMClient(logsDir: nil))
            var seen: [JSONObject] = []
            let success = try await Self.call(caller, testAgent(baseURL: baseURL)) { object in
                seen.append(object)
                return seen.count == 1 ? .failure(.echoedQuestion) : .success(object)
            }.get()
            #expect(seen.count == 2 && server.stats.chatCompletions == 2)
            #expect(seen[0]["reasoning_trace"]?["question"] == "How do I oil a chain?")
            let asked = success.output["reasoning_trace"]?["question"]?.stringValue ?? ""
            #expect(asked.hasPrefix("Note: a previous reply was rejected (echoed question)."), "\(asked)")
            #expect(asked.hasSuffix("Follow the instructions and the JSON shape exactly."))
            #expect(success.toolEvents.isEmpty)
        }
    }

    @Test func validationFailuresUseEveryAttemptThenDrop() async throws {
        try await withInProcessMock { server, baseURL in
            let caller = AgentCaller(client: LLMClient(logsDir: nil))
            let result = await Self.call(caller, testAgent(baseURL: baseURL)) { _ in .failure(.wrongLanguage) }
            guard case .failure(let failure) = result else { Issue.record("expected a failure"); return }
            #expect(failure.reason == .wrongLanguage)
            #expect(failure.detail.hasPrefix("reply failed validation (wrong_language)"))
            #expect(server.stats.chatCompletions == caller.attempts)
        }
    }

    @Test func toolRoundsCallTheHandlerAndReturnToolEvents() async throws {
        try await withInProcessMock { server, baseURL in
            let caller = AgentCaller(client: LLMClient(logsDir: nil))
            let calls = ToolCalls()
            let result: JSON = .obj(["query": "chain", "results": [.obj(["text": "Oil the chain every 300 km.", "source": "bike.md"])]])
            let definition: JSON = .obj(["type": "function", "function": .obj([
                "name": "vector_db_search", "description": "Search the knowledge base",
                "parameters": .obj(["type": "object", "properties": .obj(["query": .obj(["type": "string"])])])])])
            let tools = AgentTools(definitions: [definition], maxRounds: 3) { name, arguments in
                calls.add(name, arguments)
                return result
            }
            let success = try await Self.call(caller, testAgent(baseURL: baseURL), tools: tools).get()
            let made = calls.all
            #expect(made.count == 1)
            #expect(made.first?.0 == "vector_db_search")
            let arguments = try #require(made.first?.1)
            #expect(arguments["k"] == 3)
            #expect(arguments["query"]?.stringValue?.contains("chain") == true, "\(arguments)")
            #expect(success.toolEvents.count == 1)
            let event = try #require(success.toolEvents.first)
            #expect(event["name"] == "vector_db_search" && event["arguments"] == .object(arguments) && event["result"] == result)
            #expect(event["id"]?.stringValue?.hasPrefix("call_") == true)
            // The answer came after the tool message: it quotes the passage the handler returned.
            #expect(success.output["assistant_message"]?.stringValue?.contains("Oil the chain every 300 km.") == true,
                    "\(success.output)")
            #expect(server.stats.toolCalls == 1 && server.stats.chatCompletions == 2)
            #expect(success.usage.requests == 2)
        }
    }

    @Test func argumentsAreReadAsAStringOrAnObject() {
        func call(_ arguments: JSON) -> JSON { .obj(["id": "c1", "function": .obj(["name": "f", "arguments": arguments])]) }
        #expect(AgentCaller.arguments(call(.obj(["query": "q", "k": 2]))) == ["query": "q", "k": 2])
        #expect(AgentCaller.arguments(call(#"{"query":"q","k":2}"#)) == ["query": "q", "k": 2])
        #expect(AgentCaller.arguments(call("not json")) == JSONObject())
        #expect(AgentCaller.arguments(call("[1]")) == JSONObject())
        #expect(AgentCaller.arguments(.obj(["id": "c1"])) == JSONObject())
    }

    @Test func anUnavailableServerFailsAtOnce() async throws {
        let refused = try RefusedPort()
        let caller = AgentCaller(client: LLMClient(logsDir: nil))
        let result = await Self.call(caller, testAgent(baseURL: refused.baseURL, maxRetries: 0, timeout: 60))
        guard case .failure(let failure) = result else { Issue.record("expected a failure"); return }
        #expect(failure.reason == .llmUnavailable)
        #expect(failure.usage.requests == 0)
        // A refused connection is no timeout, told by the failure itself, not by the clock (a loaded CI
        // machine took 31 s over a refusal in LLMClientTests).
        #expect(failure.detail.contains("connection error") && !failure.detail.contains("timed out"), "\(failure.detail)")
    }

    @Test func aServerThatDropsConnectionsEndsTheCallWithoutFurtherAttempts() async throws {
        try await withInProcessMock(mockOptions { $0.faults.drop = 1 }) { server, baseURL in
            let caller = AgentCaller(client: LLMClient(logsDir: nil))
            let result = await Self.call(caller, testAgent(baseURL: baseURL, maxRetries: 1))
            guard case .failure(let failure) = result else { Issue.record("expected a failure"); return }
            #expect(failure.reason == .llmUnavailable, "\(failure.detail)")
            // The client's own retry (max_retries 1), and no second or third attempt of the agent call.
            #expect(server.stats.chatCompletions == 2)
            #expect(server.stats.faults[.drop] == 2)
        }
    }

    @Test func aRefusingServerFailsAtOnceAsRejected() async throws {
        try await withInProcessMock { server, baseURL in
            let caller = AgentCaller(client: LLMClient(logsDir: nil))
            let result = await Self.call(caller, testAgent(baseURL: baseURL + "/wrong"))
            guard case .failure(let failure) = result else { Issue.record("expected a failure"); return }
            #expect(failure.reason == .llmRejected)
            #expect(server.stats.notFound == 1, "one request, no further attempt")
        }
    }
}
