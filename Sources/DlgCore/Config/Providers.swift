// Providers by name, as upstream's newer version names them (LiteLLM's way: `provider: gemini`,
// `model: gemini/gemini-3-flash-preview`): each maps to the provider's OpenAI-compatible endpoint and
// the variable that usually holds its key. An explicit base_url always wins over this table.

/// One provider reachable through an OpenAI-compatible chat completions endpoint.
public struct Provider: Sendable, Equatable {
    /// LiteLLM's provider name (also the model prefix, `gemini/...`).
    public var name: String
    /// The OpenAI-compatible base URL; nil when the provider has no fixed one (self-hosted servers).
    public var baseURL: String?
    /// Variables holding its key, first set wins.
    public var keyVariables: [String]
}

public enum Providers {
    /// The table the README documents (with where each URL comes from).
    public static let table: [Provider] = [
        Provider(name: "openai", baseURL: "https://api.openai.com/v1", keyVariables: ["OPENAI_API_KEY"]),
        Provider(name: "gemini", baseURL: "https://generativelanguage.googleapis.com/v1beta/openai",
                 keyVariables: ["GEMINI_API_KEY", "GOOGLE_API_KEY"]),
        Provider(name: "anthropic", baseURL: "https://api.anthropic.com/v1", keyVariables: ["ANTHROPIC_API_KEY"]),
        Provider(name: "mistral", baseURL: "https://api.mistral.ai/v1", keyVariables: ["MISTRAL_API_KEY"]),
        Provider(name: "groq", baseURL: "https://api.groq.com/openai/v1", keyVariables: ["GROQ_API_KEY"]),
        Provider(name: "deepseek", baseURL: "https://api.deepseek.com/v1", keyVariables: ["DEEPSEEK_API_KEY"]),
        Provider(name: "openrouter", baseURL: "https://openrouter.ai/api/v1", keyVariables: ["OPENROUTER_API_KEY"]),
        Provider(name: "together_ai", baseURL: "https://api.together.ai/v1",
                 keyVariables: ["TOGETHERAI_API_KEY", "TOGETHER_API_KEY"]),
        Provider(name: "hosted_vllm", baseURL: nil, keyVariables: ["HOSTED_VLLM_API_KEY"]),
    ]

    /// LiteLLM's other spellings.
    static let aliases: [String: String] = ["google": "gemini", "together": "together_ai", "vllm": "hosted_vllm"]

    public static func named(_ name: String) -> Provider? {
        let n = name.trimmingCharacters(in: .whitespaces).lowercased()
        let key = aliases[n] ?? n
        return table.first { $0.name == key }
    }

    /// The provider an agent names, and the model to send to it.
    public enum Choice: Equatable {
        /// No provider named (and no known model prefix): upstream's OpenAI defaults apply.
        case none
        case known(Provider, model: String)
        case unknown(String)
    }

    /// `provider` wins; else a model prefix that names a provider (`groq/llama-3.1-8b-instant`). The
    /// prefix is dropped from the model when it names the chosen provider (the endpoint wants its own
    /// model id): `openrouter/anthropic/claude-sonnet-4` sends `anthropic/claude-sonnet-4`.
    public static func choose(provider: String, model: String) -> Choice {
        let p = provider.trimmingCharacters(in: .whitespaces)
        let prefix = model.firstIndex(of: "/").map { String(model[..<$0]) }
        let chosen: Provider
        if !p.isEmpty {
            guard let found = named(p) else { return .unknown(p) }
            chosen = found
        } else if let prefix, let found = named(prefix) {
            chosen = found
        } else {
            return .none
        }
        var sent = model
        if let prefix, named(prefix)?.name == chosen.name {
            sent = String(model[model.index(after: model.firstIndex(of: "/")!)...])
        }
        return .known(chosen, model: sent)
    }
}

extension AgentName {
    /// The newer layout's role name (`llm.agents.user`, `LLM_USER_MODEL`).
    public var role: String {
        switch self {
        case .qaGenerator: return "user"
        case .kbResponder: return "assistant"
        case .qaJudge: return "judge"
        }
    }
}
