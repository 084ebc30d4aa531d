import Foundation
import Testing
@testable import DlgCore

@Suite struct ConfigTests {
    @Test func upstreamDefaultsApply() throws {
        let f = try ConfigFixture("run:\n  batch_size: 3\n")
        defer { f.cleanup() }
        let s = try f.load()
        #expect(s.run.batchSize == 3)
        #expect(s.run.totalSamples == 3)           // 0 means batch_size
        #expect(s.run.minTurns == 2 && s.run.maxTurns == 2)
        #expect(s.judge.mode == "offline" && !s.judge.online)
        #expect(s.retrieval.chunkSize == 750 && s.retrieval.overlap == 150)
        #expect(s.coverage.questionDedupRetries == 3)
        #expect(s.run.targetLanguages == ["en"])
    }

    @Test func oneTurnBoundCopiesTheOther() throws {
        let f = try ConfigFixture("run:\n  max_turns: 4\n")
        defer { f.cleanup() }
        let s = try f.load()
        #expect(s.run.minTurns == 4 && s.run.maxTurns == 4)
    }

    @Test func invalidValueNamesKeyPathLineAndAllowed() throws {
        let f = try ConfigFixture("run:\n  batch_size: 2\n  turn_count_distribution: gaussian\n")
        defer { f.cleanup() }
        do {
            _ = try f.load()
            Issue.record("expected an error")
        } catch let e as DlgError {
            #expect(e.code == .config)
            #expect(e.message.contains("config.yaml:3"))
            #expect(e.message.contains("run.turn_count_distribution"))
            #expect(e.message.contains("\"gaussian\""))
            #expect(e.message.contains("uniform"))
        }
    }

    @Test func minAboveMaxIsAnError() throws {
        let f = try ConfigFixture("run:\n  min_turns: 5\n  max_turns: 2\n")
        defer { f.cleanup() }
        #expect(throws: DlgError.self) { try f.load() }
    }

    @Test func environmentOverridesAndBadEnvironmentValues() throws {
        let f = try ConfigFixture("run:\n  batch_size: 2\n")
        defer { f.cleanup() }
        let s = try f.load(["BATCH_SIZE": "7", "TARGET_LANGUAGES": "en, fr", "JUDGE_MODE": "online",
                            "KB_REBUILD_INDEX": "no"])
        #expect(s.run.batchSize == 7)
        #expect(s.run.targetLanguages == ["en", "fr"])
        #expect(s.judge.online)
        #expect(!s.retrieval.rebuildIndex)
        do {
            _ = try f.load(["TOTAL_SAMPLES": "many"])
            Issue.record("expected an error")
        } catch let e as DlgError {
            #expect(e.code == .config)
            #expect(e.message.contains("TOTAL_SAMPLES"))
        }
    }

    @Test func agentResolutionOrder() throws {
        let f = try ConfigFixture("""
        llm:
          model: global-model
          base_url: http://127.0.0.1:9/v1
          agents:
            qa_judge:
              model: judge-model
        """)
        defer { f.cleanup() }
        let s = try f.load(["LLM_KB_RESPONDER_MODEL": "env-kb", "OPENAI_API_KEY": "sk-test"])
        #expect(s.agent(.qaGenerator).model == "global-model")
        #expect(s.agent(.qaJudge).model == "judge-model")
        #expect(s.agent(.kbResponder).model == "env-kb")
        #expect(s.agent(.qaGenerator).endpoints.first?.baseURL == "http://127.0.0.1:9/v1")
        // Issue 23: OPENAI_API_KEY goes with OPENAI_BASE_URL (or OpenAI), not to a base_url the config names.
        #expect(s.agent(.qaGenerator).endpoints.first?.apiKey == "EMPTY")
        #expect(s.keyWarnings.contains { $0.contains("OPENAI_API_KEY is not sent to http://127.0.0.1:9") }, "\(s.keyWarnings)")
        let paired = try f.load(["OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"])
        #expect(paired.agent(.qaGenerator).endpoints.first?.apiKey == "sk-test")
    }

    @Test func dotenvFillsButNeverOverridesAndVariablesExpand() throws {
        let f = try ConfigFixture("llm:\n  base_url: ${MY_URL}\n  model: ${MY_MODEL:-fallback}\n",
                                  dotenv: "MY_URL=http://127.0.0.1:1/v1\nexport MY_MODEL=\"from-dotenv\"\n")
        defer { f.cleanup() }
        let s = try f.load(["MY_MODEL": "from-env"])
        #expect(s.agent(.qaGenerator).endpoints.first?.baseURL == "http://127.0.0.1:1/v1")
        #expect(s.agent(.qaGenerator).model == "from-env")
    }

    @Test func missingModelIsAConfigError() throws {
        let f = try ConfigFixture("llm:\n  base_url: http://127.0.0.1:9/v1\n")
        defer { f.cleanup() }
        let s = try f.load([:])
        #expect(throws: DlgError.self) { try s.requireAgent(.qaGenerator) }
    }

    @Test func badURLIsRejected() throws {
        let f = try ConfigFixture("llm:\n  base_url: localhost:1234\n  model: m\n")
        defer { f.cleanup() }
        #expect(throws: DlgError.self) { try f.load([:]) }
    }
}

@Suite struct UnknownKeyTests {
    @Test func misspeltKeysAreListedWithTheirLine() throws {
        let f = try ConfigFixture("run:\n  batchsize: 4\n  batch_size: 2\nllm:\n  agents:\n    qa_generator: {model: m}\n  extra: {seed: 1}\nfoo: 1\n")
        defer { f.cleanup() }
        let s = try f.load()
        #expect(s.tree.unknownKeys.count == 2)
        #expect(s.tree.unknownKeys.contains { $0.hasSuffix(":2: run.batchsize") })
        #expect(s.tree.unknownKeys.contains { $0.hasSuffix(": foo") })
    }
}
