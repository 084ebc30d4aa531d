import Foundation

/// Token counts from the server's `usage` fields.
public struct TokenUsage: Sendable, Equatable {
    public var promptTokens = 0
    public var completionTokens = 0
    public var requests = 0
    public init() {}
    public static func += (a: inout TokenUsage, b: TokenUsage) {
        a.promptTokens += b.promptTokens; a.completionTokens += b.completionTokens; a.requests += b.requests
    }
    public var json: JSON {
        .obj(["prompt_tokens": .int(promptTokens), "completion_tokens": .int(completionTokens),
              "total_tokens": .int(promptTokens + completionTokens), "requests": .int(requests)])
    }
    public init(json: JSON?) {
        promptTokens = json?["prompt_tokens"]?.intValue ?? 0
        completionTokens = json?["completion_tokens"]?.intValue ?? 0
        requests = json?["requests"]?.intValue ?? 0
    }

    public static func + (a: TokenUsage, b: TokenUsage) -> TokenUsage { var c = a; c += b; return c }
    public static func - (a: TokenUsage, b: TokenUsage) -> TokenUsage {
        var c = a
        c.promptTokens -= b.promptTokens; c.completionTokens -= b.completionTokens; c.requests -= b.requests
        return c
    }
    public var totalTokens: Int { promptTokens + completionTokens }

    /// A record's tokens per agent (`usage.by_agent`, ours), by agent name.
    public static func byAgent(_ json: JSON?) -> [String: TokenUsage] {
        var out: [String: TokenUsage] = [:]
        for (agent, u) in json?["by_agent"]?.objectValue?.pairs ?? [] { out[agent] = TokenUsage(json: u) }
        return out
    }
}
