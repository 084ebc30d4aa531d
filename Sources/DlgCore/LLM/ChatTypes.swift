import Foundation

/// A chat message as the API takes it.
public typealias ChatMessage = JSON

/// What one completed chat call returned.
public struct ChatReply: Sendable {
    /// The assistant message object (`role`, `content`, maybe `tool_calls`).
    public var message: JSON
    /// The reply's text; a list of text parts is joined (`ReplyContent`).
    public var content: String { ReplyContent.text(message["content"]) }
    public var toolCalls: [JSON] { message["tool_calls"]?.arrayValue ?? [] }
    public var finishReason: String
    public var usage: TokenUsage
    public var model: String
    public var endpoint: String
    /// The whole chat completion as the server sent it.
    public var raw: JSON
}

/// Why a chat call failed for good.
public struct LLMFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case unavailable, rejected, timeout, invalidReply }
    public var kind: Kind
    public var message: String
    public var description: String { message }
}

/// How the reply should be constrained.
public enum ResponseFormat: Sendable {
    case text
    /// A JSON object following `schema`; sent as `json_schema` where the endpoint takes it, else `json_object`.
    case json(name: String, schema: JSON)
}
