// Credentials and mapping variables (upstream's tests/test_llm_settings_credentials.py), `.env`
// precedence (test_env_loader.py), per-endpoint keys and api_key_env (test_llm_routing.py), and
// providers by name.

import Testing
@testable import DlgCore

@Suite struct CredentialTests {
    let roles = """
    llm:
      agents:
        user: {provider: openai, model: gpt-5}
        assistant: {provider: gemini, model: gemini/gemini-2.0-flash}
        judge: {provider: anthropic, model: claude-sonnet-4}
    """

    @Test func mappingVariableNamesTheVariableHoldingTheKey() throws {
        let f = try ConfigFile(roles)
        let s = try f.settings(["LLM_USER_API_KEY_ENV": "OPENAI_API_KEY", "OPENAI_API_KEY": "token-123"])
        #expect(s.agent(.qaGenerator).endpoints.first?.apiKey == "token-123")
        try s.requireAgent(.qaGenerator)
    }

    @Test(arguments: [
        (AgentName.qaGenerator, "LLM_USER_API_KEY_ENV", "LLM_QA_GENERATOR_API_KEY_ENV", "OPENAI_API_KEY"),
        (AgentName.kbResponder, "LLM_ASSISTANT_API_KEY_ENV", "LLM_KB_RESPONDER_API_KEY_ENV", "GEMINI_API_KEY"),
        (AgentName.qaJudge, "LLM_JUDGE_API_KEY_ENV", "LLM_QA_JUDGE_API_KEY_ENV", "ANTHROPIC_API_KEY"),
    ])
    func eachRoleHasItsMappingVariableAndItsLegacyName(agent: AgentName, mapping: String, legacy: String, secret: String) throws {
        let f = try ConfigFile(roles)
        let env = ["LLM_USER_API_KEY_ENV": "KEY_U", "KEY_U": "token-u", "LLM_ASSISTANT_API_KEY_ENV": "KEY_A", "KEY_A": "token-a",
                   "LLM_JUDGE_API_KEY_ENV": "KEY_J", "KEY_J": "token-j"]
        let expected = ["LLM_USER_API_KEY_ENV": "token-u", "LLM_ASSISTANT_API_KEY_ENV": "token-a", "LLM_JUDGE_API_KEY_ENV": "token-j"][mapping]
        #expect(try f.settings(env).agent(agent).endpoints.first?.apiKey == expected)
        // The legacy agent-name form alone.
        var legacyEnv = env
        legacyEnv[mapping] = nil
        legacyEnv[legacy] = secret
        legacyEnv[secret] = "token-legacy"
        #expect(try f.settings(legacyEnv).agent(agent).endpoints.first?.apiKey == "token-legacy")
        // Both: the role's name wins.
        legacyEnv[mapping] = "KEY_ROLE"
        legacyEnv["KEY_ROLE"] = "token-role"
        #expect(try f.settings(legacyEnv).agent(agent).endpoints.first?.apiKey == "token-role")
    }

    @Test func mappingToAnEmptyVariableIsAnErrorNamingTheMappingNeverTheValue() throws {
        let f = try ConfigFile(roles)
        for empty in [["OPENAI_API_KEY": ""], [:]] {
            var env = ["LLM_USER_API_KEY_ENV": "OPENAI_API_KEY", "GEMINI_API_KEY": "secret-gemini-value"]
            for (k, v) in empty { env[k] = v }
            let message = f.configError(env) { try $0.requireAgent(.qaGenerator) }
            #expect(message.contains("LLM_USER_API_KEY_ENV") && message.contains("OPENAI_API_KEY"), "\(message)")
            #expect(!message.contains("secret-gemini-value"))
            // Only the agent that is needed fails: the assistant has its key.
            try f.settings(env).requireAgent(.kbResponder)
        }
    }

    @Test func keysInYAMLStillWork() throws {
        let f = try ConfigFile("llm:\n  base_url: http://127.0.0.1:9/v1\n  api_key: sk-yaml\n  agents:\n    user: {model: m, api_key: sk-user}\n")
        let s = try f.settings()
        #expect(s.agent(.qaGenerator).endpoints.first?.apiKey == "sk-user")
        #expect(s.agent(.kbResponder).endpoints.first?.apiKey == "sk-yaml")
    }

    @Test func dotenvSuppliesSecretsAndMappingsAndTheEnvironmentWins() throws {
        let f = try ConfigFile(roles, dotenv: "FIREWORKS_API_KEY=fw-secret\nGROQ_TOKEN=groq-secret\nLLM_USER_API_KEY_ENV=FIREWORKS_API_KEY\nRUN_ID=from-dotenv\n")
        let s = try f.settings([:])
        #expect(s.agent(.qaGenerator).endpoints.first?.apiKey == "fw-secret")
        #expect(s.tree.environment["GROQ_TOKEN"] == "groq-secret")
        let overridden = try f.settings(["FIREWORKS_API_KEY": "from-env", "RUN_ID": "env-run"])
        #expect(overridden.agent(.qaGenerator).endpoints.first?.apiKey == "from-env")
        #expect(overridden.run.runID == "env-run")
        // Unlike upstream's newer version, .env may also hold settings (the version we follow reads them all).
        #expect(s.run.runID == "from-dotenv")
    }

    @Test func routedEndpointKeysComeFromApiKeyOrApiKeyEnv() throws {
        let f = try ConfigFile("""
        llm:
          model: demo-model
          routing:
            endpoints:
              - {name: node-a, base_url: "http://127.0.0.1:8001/v1", api_key: EMPTY}
              - {name: node-b, base_url: "http://127.0.0.1:8002/v1", api_key_env: TEST_ROUTING_API_KEY}
        """)
        let e = try f.settings(["TEST_ROUTING_API_KEY": "token-123"]).agent(.qaGenerator).endpoints
        #expect(e.map(\.name) == ["node-a", "node-b"])
        #expect(e.map(\.baseURL) == ["http://127.0.0.1:8001/v1", "http://127.0.0.1:8002/v1"])
        #expect(e.map(\.apiKey) == ["EMPTY", "token-123"])
    }

    @Test func routedEndpointWithoutAKeyUsesTheAgentsKey() throws {
        let yaml = """
        llm:
          model: m
          api_key: shared-fleet-key
          routing:
            endpoints:
              - {base_url: "http://127.0.0.1:8001/v1"}
              - {base_url: "http://127.0.0.1:8002/v1", api_key: own-key}
        """
        let e = try ConfigFile(yaml).settings().agent(.kbResponder).endpoints
        #expect(e.map(\.apiKey) == ["shared-fleet-key", "own-key"])
        // No key anywhere: upstream's placeholder; and never the implicit OPENAI_API_KEY for a fleet.
        let bare = try ConfigFile("llm:\n  model: m\n  routing:\n    endpoints: [{base_url: \"http://127.0.0.1:8001/v1\"}]\n")
        #expect(try bare.settings(["OPENAI_API_KEY": "sk-openai"]).agent(.qaGenerator).endpoints.first?.apiKey == "EMPTY")
    }
}

@Suite struct ProviderTests {
    @Test func providerAndLiteLLMModelMapToTheProvidersEndpointAndKey() throws {
        let f = try ConfigFile("llm:\n  agents:\n    assistant: {provider: gemini, model: gemini/gemini-3-flash-preview}\n    user: {model: groq/llama-3.1-8b-instant}\n")
        let s = try f.settings(["GEMINI_API_KEY": "g-key", "GROQ_API_KEY": "q-key"])
        let a = s.agent(.kbResponder)
        #expect(a.endpoints.first?.baseURL == "https://generativelanguage.googleapis.com/v1beta/openai")
        #expect(a.endpoints.first?.apiKey == "g-key")
        #expect(a.model == "gemini-3-flash-preview")
        #expect(a.usedName == "gemini/gemini-3-flash-preview")
        let u = s.agent(.qaGenerator)
        #expect(u.endpoints.first?.baseURL == "https://api.groq.com/openai/v1" && u.model == "llama-3.1-8b-instant")
        #expect(u.endpoints.first?.apiKey == "q-key")
    }

    @Test(arguments: [
        ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
        ("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
        ("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
        ("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        ("together_ai", "https://api.together.ai/v1", "TOGETHERAI_API_KEY"),
        ("anthropic", "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY"),
    ])
    func providerTable(name: String, url: String, keyVariable: String) throws {
        let f = try ConfigFile("llm:\n  agents:\n    judge: {provider: \(name), model: some-model}\n")
        let s = try f.settings([keyVariable: "k-\(name)"])
        #expect(s.agent(.qaJudge).endpoints.first?.baseURL == url)
        #expect(s.agent(.qaJudge).endpoints.first?.apiKey == "k-\(name)")
        try s.requireAgent(.qaJudge)
        // Without the key: an error naming the variable to set.
        let message = f.configError([:]) { try $0.requireAgent(.qaJudge) }
        #expect(message.contains(keyVariable), "\(message)")
    }

    @Test func explicitBaseURLAlwaysWins() throws {
        let f = try ConfigFile("llm:\n  agents:\n    assistant: {provider: gemini, model: gemini/gemini-3-flash-preview, base_url: \"http://127.0.0.1:7/v1\"}\n")
        let a = try f.settings().agent(.kbResponder)
        #expect(a.endpoints.first?.baseURL == "http://127.0.0.1:7/v1")
        #expect(a.model == "gemini/gemini-3-flash-preview")     // sent as written to a server the user chose
        let g = try ConfigFile("llm:\n  agents:\n    assistant: {provider: gemini, model: gemini-2.0-flash}\n")
        #expect(try g.settings(["LLM_ASSISTANT_BASE_URL": "http://127.0.0.1:8/v1"]).agent(.kbResponder).endpoints.first?.baseURL == "http://127.0.0.1:8/v1")
    }

    @Test func unknownProviderSaysHowToSetBaseURL() throws {
        let f = try ConfigFile("llm:\n  model: m\n  agents:\n    user: {provider: acme}\n")
        let message = f.configError { try $0.requireAgent(.qaGenerator) }
        #expect(message.contains("config.yaml:4") && message.contains("unknown provider \"acme\"") && message.contains("base_url"), "\(message)")
        // With a base_url the provider only names the agent.
        let g = try ConfigFile("llm:\n  model: m\n  base_url: http://127.0.0.1:9/v1\n  agents:\n    user: {provider: acme}\n")
        try g.settings().requireAgent(.qaGenerator)
    }

    @Test func selfHostedProviderNeedsABaseURL() throws {
        let f = try ConfigFile("llm:\n  agents:\n    user: {provider: hosted_vllm, model: hosted_vllm/qwen}\n")
        let message = f.configError { try $0.requireAgent(.qaGenerator) }
        #expect(message.contains("hosted_vllm") && message.contains("base_url"), "\(message)")
    }
}
