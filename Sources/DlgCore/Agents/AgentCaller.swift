import Foundation

/// Tools an agent may call during one agent call, and what answers them.
public struct AgentTools: Sendable {
    /// OpenAI function tool definitions.
    public var definitions: [JSON]
    /// Requests per attempt, tool rounds and the repair request included.
    public var maxRounds: Int
    /// Runs one tool call: its name, its arguments (an object) and its id; the result goes back to the
    /// model as the tool message's content and into the turn's `tool_events`.
    public var handle: @Sendable (_ name: String, _ arguments: JSONObject) async -> JSON
    /// The text of a result for the model (the event keeps `result` as it is).
    public var render: @Sendable (JSON) -> String

    public init(definitions: [JSON], maxRounds: Int, handle: @escaping @Sendable (String, JSONObject) async -> JSON,
                render: @escaping @Sendable (JSON) -> String = { $0.serialized() }) {
        self.definitions = definitions
        self.maxRounds = maxRounds
        self.handle = handle
        self.render = render
    }
}

/// Calls one agent for a JSON object. The rules of every agent call live here, for gen, respond and
/// judge alike: tool rounds when tools are offered, one repair request for a reply that is not JSON,
/// validation, and a bounded number of fresh attempts that say what was wrong with the last one; a
/// server that cannot be reached or refuses the request ends the call at once.
public struct AgentCaller: Sendable {
    public let client: LLMClient
    /// Attempts per call before the dialogue is dropped.
    public var attempts = 3

    public init(client: LLMClient) { self.client = client }

    public struct Success: Sendable {
        public var output: JSONObject
        public var usage: TokenUsage
        public var model: String
        /// The chat completion the output came from (the repair request's, when one was needed).
        public var raw: JSON
        /// The tool calls of the attempt that succeeded: `{id, name, arguments, result}` each.
        public var toolEvents: [JSON]
    }

    public struct Failure: Error, Sendable {
        public var reason: DropReason
        public var detail: String
        public var usage: TokenUsage
    }

    /// The start of a reply, on one line, for the logs.
    static func excerpt(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).joined(separator: " ").prefix(160))
    }

    static let repairPrompt = "Your last reply could not be read as a JSON object. Reply again with only the JSON object described above: no prose, no code fences."

    static func retryNote(_ reason: DropReason, _ instruction: String) -> ChatMessage {
        .obj(["role": "user", "content": .string(
            "Note: a previous reply was rejected (\(reason.rawValue.replacingOccurrences(of: "_", with: " "))). \(instruction)")])
    }

    /// Tool arguments as servers send them: a JSON string (the API's shape) or an object.
    public static func arguments(_ call: JSON) -> JSONObject {
        let raw = call["function"]?["arguments"]
        if let o = raw?.objectValue { return o }
        return (raw?.stringValue).flatMap { try? JSONCodec.parse($0) }?.objectValue ?? JSONObject()
    }

    /// One agent call. `retryInstruction` follows the rejection note on a fresh attempt.
    public func callJSON(agent: AgentSettings, messages start: [ChatMessage], schemaName: String, schema: JSON,
                         label: String, tools: AgentTools? = nil,
                         retryInstruction: String = "Follow the instructions and the JSON shape exactly.",
                         validate: (JSONObject) -> Result<JSONObject, DropReason>) async -> Result<Success, Failure>
    {
        var usage = TokenUsage()
        var lastReason = DropReason.invalidOutput
        var lastDetail = ""
        let maxRounds = max(2, tools?.maxRounds ?? 2)
        attempts: for attempt in 0..<attempts {
            var messages = start
            if attempt > 0 { messages.append(Self.retryNote(lastReason, retryInstruction)) }
            var events: [JSON] = []
            var repaired = false
            for round in 1...maxRounds {
                var callLabel = label
                if tools != nil { callLabel += " round=\(round)" }
                if repaired { callLabel += " repair=1" }
                let reply: ChatReply
                do {
                    reply = try await client.chat(agent: agent, messages: messages,
                                                  format: .json(name: schemaName, schema: schema),
                                                  tools: tools?.definitions ?? [], label: callLabel)
                } catch where error.kind == .invalidReply {
                    lastReason = .invalidOutput
                    lastDetail = error.message
                    continue attempts
                } catch {
                    return .failure(Failure(reason: error.kind == .rejected ? .llmRejected : .llmUnavailable,
                                            detail: error.message, usage: usage))
                }
                usage += reply.usage
                if let tools, !reply.toolCalls.isEmpty {
                    messages.append(.obj(["role": "assistant", "content": .string(reply.content),
                                          "tool_calls": .array(reply.toolCalls)]))
                    for call in reply.toolCalls {
                        let callID = call["id"]?.stringValue ?? "call_\(round)"
                        let name = call["function"]?["name"]?.stringValue ?? ""
                        let args = Self.arguments(call)
                        let result = await tools.handle(name, args)
                        events.append(.obj(["id": .string(callID), "name": .string(name), "arguments": .object(args),
                                            "result": result]))
                        messages.append(.obj(["role": "tool", "tool_call_id": .string(callID), "name": .string(name),
                                              "content": .string(tools.render(result))]))
                    }
                    continue
                }
                guard let object = ReplyJSON.extract(reply.content) else {
                    lastReason = .invalidOutput
                    lastDetail = "reply is not a JSON object: " + Self.excerpt(reply.content)
                    if repaired { continue attempts }
                    repaired = true
                    messages.append(.obj(["role": "assistant", "content": .string(String(reply.content.prefix(4000)))]))
                    messages.append(.obj(["role": "user", "content": .string(Self.repairPrompt)]))
                    continue
                }
                switch validate(object) {
                case .success(let out):
                    return .success(Success(output: out, usage: usage, model: reply.model, raw: reply.raw, toolEvents: events))
                case .failure(let reason):
                    lastReason = reason
                    lastDetail = "reply failed validation (\(reason.rawValue)): " + Self.excerpt(reply.content)
                    continue attempts
                }
            }
            lastReason = .invalidOutput
            lastDetail = "no answer after \(maxRounds) requests (tool rounds included)"
        }
        return .failure(Failure(reason: lastReason, detail: lastDetail, usage: usage))
    }
}
