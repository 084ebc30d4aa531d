// The parts of an OpenAI chat-completions request that the mock looks at.

/// Which of the project's agents a chat request comes from.
public enum MockAgent: String, Sendable, CaseIterable {
    case qaGenerator = "qa_generator"
    case kbResponder = "kb_responder"
    case qaJudge = "qa_judge"
    case conversationJudge = "conversation_judge"
    /// Anything else; answered with `{"answer":"ok"}`.
    case unknown
}

/// The `response_format` of a chat request, as far as the mock cares.
enum ResponseFormatKind {
    case none
    case jsonObject
    case jsonSchema(name: String?)
}

/// A request that cannot be served, with the message for the 400 reply.
struct BadRequest: Error {
    var message: String
    var param: String?
}

/// A chat-completions request reduced to what the mock needs.
struct ChatRequest {
    struct Message {
        var role: String
        var content: String
    }

    var model: String?
    var messages: [Message]
    var responseFormat: ResponseFormatKind
    var toolNames: [String]
    /// The request's `seed`: like a sampling server, the same prompt with another seed gets another reply.
    var seed: Int?
    /// Size of the request body, for the prompt token estimate.
    var bodyBytes = 0

    /// What `init` reads of a request body; the rest (schemas, tool parameters, tool calls) is only checked.
    static let keep = JSONKeep.members([
        ("model", .all),
        ("messages", .elements(.members([("role", .all), ("content", .all)]))),
        ("response_format", .members([("type", .all), ("json_schema", .members([("name", .all)]))])),
        ("seed", .all),
        ("tools", .elements(.members([("function", .members([("name", .all)]))]))),
    ])

    init(_ json: JSONValue) throws {
        guard case .object = json else { throw BadRequest(message: "the request body must be a JSON object") }
        if let model = json["model"], model != .null {
            guard let name = model.stringValue else { throw BadRequest(message: "'model' must be a string", param: "model") }
            self.model = name
        }
        guard let list = json["messages"]?.arrayValue, !list.isEmpty else {
            throw BadRequest(message: "'messages' must be a non-empty array", param: "messages")
        }
        messages = []
        messages.reserveCapacity(list.count)
        for (i, element) in list.enumerated() {
            guard case .object = element, let role = element["role"]?.stringValue else {
                throw BadRequest(message: "'messages[\(i)]' must be an object with a string 'role'", param: "messages")
            }
            let content: String
            switch element["content"] {
            case nil, .null?: content = ""
            case .string(let s)?: content = s
            case .array(let parts)?:
                // Content parts: keep the text ones.
                content = parts.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
            default:
                throw BadRequest(message: "'messages[\(i)].content' must be a string, an array or null", param: "messages")
            }
            messages.append(Message(role: role, content: content))
        }
        switch json["response_format"] {
        case nil, .null?:
            responseFormat = .none
        case let format?:
            guard case .object = format, let type = format["type"]?.stringValue else {
                throw BadRequest(message: "'response_format' must be an object with a string 'type'", param: "response_format")
            }
            switch type {
            case "json_schema": responseFormat = .jsonSchema(name: format["json_schema"]?["name"]?.stringValue)
            case "json_object": responseFormat = .jsonObject
            case "text": responseFormat = .none
            default:
                throw BadRequest(message: "'response_format.type' must be one of text, json_object, json_schema", param: "response_format")
            }
        }
        switch json["seed"] {
        case nil, .null?: seed = nil
        case .int(let n)?: seed = n
        default: throw BadRequest(message: "'seed' must be an integer", param: "seed")
        }
        toolNames = []
        if let tools = json["tools"]?.arrayValue {
            for tool in tools {
                if let name = tool["function"]?["name"]?.stringValue { toolNames.append(name) }
            }
        }
    }

    /// The content hash: the mock's seed, the request's seed if any, and every message's role and content.
    func contentHash(seed: UInt64) -> UInt64 {
        var hash = StableHash(seed: seed)
        if let requestSeed = self.seed { hash.add(UInt64(bitPattern: Int64(requestSeed))) }
        for message in messages {
            hash.add(message.role)
            hash.addByte(0x1F)
            hash.add(message.content)
            hash.addByte(0x1E)
        }
        return hash.value
    }

    /// Which agent is asking: the schema name first, then a marker in the system messages.
    var agent: MockAgent {
        if case .jsonSchema(let name?) = responseFormat, let agent = MockAgent(rawValue: name), agent != .unknown {
            return agent
        }
        let system = messages.lazy.filter { $0.role == "system" || $0.role == "developer" }.map(\.content)
        for agent in [MockAgent.conversationJudge, .qaJudge, .kbResponder, .qaGenerator] {
            let marker = "agent: " + agent.rawValue
            if system.contains(where: { TextTools.contains(marker, in: $0) }) { return agent }
        }
        return .unknown
    }

    /// The content of the last message with `role`, if any.
    func last(_ role: String) -> String? {
        messages.last(where: { $0.role == role })?.content
    }

    /// All message contents, newline-separated (for marker searches).
    var allText: String {
        messages.map(\.content).joined(separator: "\n")
    }
}
