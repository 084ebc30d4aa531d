import Foundation

/// Calls one agent for a JSON object: parse, one repair call for a reply that is not JSON,
/// validation, and a bounded number of fresh attempts that say what was wrong with the last one.
public struct AgentCaller: Sendable {
    public let client: LLMClient
    /// Attempts per call before the dialogue is dropped.
    public var attempts = 3

    public init(client: LLMClient) { self.client = client }

    public struct Success: Sendable {
        public var output: JSONObject
        public var usage: TokenUsage
        public var model: String
        /// The chat completion the output came from (the repair call's, when one was needed).
        public var raw: JSON
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

    public func callJSON(agent: AgentSettings, messages start: [ChatMessage], schemaName: String, schema: JSON,
                         label: String,
                         validate: (JSONObject) -> Result<JSONObject, DropReason>) async -> Result<Success, Failure>
    {
        var usage = TokenUsage()
        var lastReason = DropReason.invalidOutput
        var lastDetail = ""
        var messages = start
        for attempt in 0..<attempts {
            if attempt > 0 {
                messages = start
                messages.append(.obj(["role": "user", "content": .string(
                    "Note: a previous reply was rejected (\(lastReason.rawValue.replacingOccurrences(of: "_", with: " "))). Follow the instructions and the JSON shape exactly.")]))
            }
            let reply: ChatReply
            do {
                reply = try await client.chat(agent: agent, messages: messages,
                                              format: .json(name: schemaName, schema: schema), label: label)
            } catch where error.kind == .invalidReply {
                lastReason = .invalidOutput
                lastDetail = error.message
                continue
            } catch {
                return .failure(Failure(reason: error.kind == .rejected ? .llmRejected : .llmUnavailable,
                                        detail: error.message, usage: usage))
            }
            usage += reply.usage
            var parsed = ReplyJSON.extract(reply.content)
            var raw = reply.raw
            if parsed == nil {
                var repair = messages
                repair.append(.obj(["role": "assistant", "content": .string(String(reply.content.prefix(4000)))]))
                repair.append(.obj(["role": "user", "content": .string(Self.repairPrompt)]))
                if let fixed = try? await client.chat(agent: agent, messages: repair,
                                                      format: .json(name: schemaName, schema: schema),
                                                      label: label + " repair=1") {
                    usage += fixed.usage
                    parsed = ReplyJSON.extract(fixed.content)
                    raw = fixed.raw
                }
            }
            guard let object = parsed else {
                lastReason = .invalidOutput
                lastDetail = "reply is not a JSON object: " + Self.excerpt(reply.content)
                continue
            }
            switch validate(object) {
            case .success(let out): return .success(Success(output: out, usage: usage, model: reply.model, raw: raw))
            case .failure(let reason):
                lastReason = reason
                lastDetail = "reply failed validation (\(reason.rawValue)): " + Self.excerpt(reply.content)
            }
        }
        return .failure(Failure(reason: lastReason, detail: lastDetail, usage: usage))
    }
}
