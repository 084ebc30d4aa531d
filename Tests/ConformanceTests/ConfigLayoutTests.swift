// Legacy and new key layouts: what upstream's tests/test_config_schema_v3.py and
// test_config_llm_validation.py pin, as this version reads it (differences are in the README).

import Testing
@testable import DlgCore

@Suite struct ConfigLayoutTests {
    @Test func newLayoutTurnsRangeAndSeedingAreRead() throws {
        let f = try ConfigFile("""
        run:
          turns:
            mode: range
            exact: null
            min: 2
            max: 5
            distribution: uniform
            mean: null
          data:
            seeding:
              question: seed-question
              topics:
                path: data/seeds/other.yaml
                enabled: true
                variant: v1
                probability: 0.5
        """)
        let s = try f.settings()
        #expect(s.run.minTurns == 2 && s.run.maxTurns == 5)
        #expect(s.run.turnCountDistribution == "uniform")
        #expect(s.run.seedQuestion == "seed-question")
        #expect(s.run.questionSeed == "")            // not the seed question
        #expect(s.run.seedTopicsPath == "data/seeds/other.yaml")
        #expect(s.run.seedTopicsEnabled && s.run.seedTopicsVariant == "v1" && s.run.seedTopicsProbability == 0.5)
        #expect(s.tree.unknownKeys.isEmpty, "\(s.tree.unknownKeys)")
        #expect(s.tree.warnings.isEmpty, "\(s.tree.warnings)")
    }

    @Test func newLayoutExactTurnsGiveEveryDialogueThatCount() throws {
        let f = try ConfigFile("run:\n  turns:\n    mode: exact\n    exact: 4\n")
        let s = try f.settings()
        #expect(s.run.minTurns == 4 && s.run.maxTurns == 4)
        // A lone `exact` means exact (upstream ignores it unless mode says exact).
        let g = try ConfigFile("run:\n  turns:\n    exact: 3\n")
        #expect(try g.settings().run.maxTurns == 3)
    }

    @Test func exactModeWithoutExactAndUnknownModeAreErrorsWithTheirLine() throws {
        let f = try ConfigFile("run:\n  turns:\n    mode: exact\n")
        #expect(f.configError().contains("run.turns.exact"))
        let g = try ConfigFile("run:\n  batch_size: 1\n  turns:\n    mode: sometimes\n")
        let message = g.configError()
        #expect(message.contains("config.yaml:4") && message.contains("run.turns.mode") && message.contains("exact or range"), "\(message)")
    }

    @Test func legacyTurnAndSeedKeysStillWork() throws {
        let f = try ConfigFile("run:\n  n_turns: 4\n  seed_question: legacy-seed\n  seed_topics_path: legacy/topics.yaml\n  seed_topics_enabled: false\n")
        let s = try f.settings()
        #expect(s.run.minTurns == 4 && s.run.maxTurns == 4)
        #expect(s.run.seedQuestion == "legacy-seed")
        #expect(s.run.seedTopicsPath == "legacy/topics.yaml" && !s.run.seedTopicsEnabled)
    }

    @Test func legacyNTurnsWithARangeLoadsAsTheRange() throws {
        // Upstream's newer loader rejects its own older sample (n_turns 2, min 2, max 12); we read the range.
        let f = try ConfigFile("run:\n  n_turns: 2\n  min_turns: 2\n  max_turns: 12\n")
        let s = try f.settings()
        #expect(s.run.minTurns == 2 && s.run.maxTurns == 12)
    }

    @Test func newLayoutToolsRetrievalAndWebSearchAreRead() throws {
        let f = try ConfigFile("""
        tools:
          web_search:
            enabled: true
            serper_num_results: 8
            serper_timeout: 45
          retrieval:
            top_k: 6
            chunking: {chunk_size: 900, chunk_overlap: 120}
            index: {persist_dir: new_index, rebuild: true, skip_if_unchanged: false}
        """)
        let s = try f.settings()
        #expect(s.webSearchEnabled)
        #expect(s.tree.value(at: "tools.serper_num_results") == .int(8))
        #expect(s.tree.value(at: "tools.serper_timeout") == .int(45))
        #expect(s.retrieval.defaultK == 6 && s.retrieval.chunkSize == 900 && s.retrieval.overlap == 120)
        #expect(s.retrieval.persistDir == "new_index" && s.retrieval.rebuildIndex && !s.retrieval.skipIfUnchanged)
        #expect(s.tree.unknownKeys.isEmpty, "\(s.tree.unknownKeys)")
    }

    @Test func legacyRetrievalModelsAndFlatWebSearchKeysStillWork() throws {
        let f = try ConfigFile("""
        retrieval: {default_k: 7, chunk_size: 900, overlap: 120, persist_dir: legacy_index, rebuild_index: true}
        models: {embedding_model: legacy/embedding}
        tools: {web_search_enabled: true, serper_num_results: 9, serper_timeout: 33}
        """)
        let s = try f.settings()
        #expect(s.retrieval.defaultK == 7 && s.retrieval.chunkSize == 900 && s.retrieval.overlap == 120)
        #expect(s.retrieval.persistDir == "legacy_index" && s.retrieval.rebuildIndex)
        #expect(s.retrieval.embeddingModel == "legacy/embedding")
        #expect(s.webSearchEnabled)
    }

    @Test func newRoleNamesMapOntoAgentsAndLegacyNamesStillWork() throws {
        let f = try ConfigFile("""
        llm:
          mode: api
          base_url: http://127.0.0.1:9/v1
          agents:
            user: {model: new-user, temperature: 0.3}
            assistant: {model: new-assistant}
            qa_judge: {model: legacy-judge}
        """)
        let s = try f.settings()
        #expect(s.agent(.qaGenerator).model == "new-user" && s.agent(.qaGenerator).temperature == 0.3)
        #expect(s.agent(.kbResponder).model == "new-assistant")
        #expect(s.agent(.qaJudge).model == "legacy-judge")
        #expect(s.backend == "openai")
    }

    @Test func llmModeMapsToBackendAndTheYAMLBackendIsNotIgnored() throws {
        // Upstream's newer loader ignores `llm.backend: vllm_attach` in YAML; we do not.
        let legacy = try ConfigFile("llm:\n  backend: vllm_attach\n")
        #expect(try legacy.settings().backend == "vllm_attach")
        let new = try ConfigFile("llm:\n  mode: vllm_managed\n")
        #expect(try new.settings().backend == "vllm_managed")
        #expect(try new.settings(["LLM_MODE": "api"]).backend == "openai")
        #expect(try legacy.settings(["LLM_BACKEND": "openai", "LLM_MODE": "vllm_managed"]).backend == "vllm_managed")
        let bad = try ConfigFile("llm:\n  mode: cloud\n")
        #expect(bad.configError().contains("llm.mode"))
    }

    @Test func mixedFileNewerKeyWinsAndTheOlderIsNamedWithItsLine() throws {
        let f = try ConfigFile("""
        run:
          min_turns: 3
          max_turns: 3
          seed_question: old question
          turns:
            mode: range
            min: 2
            max: 6
          data:
            seeding:
              question: new question
        llm:
          backend: vllm_attach
          mode: api
          agents:
            qa_generator: {model: old-model, temperature: 0.2}
            user: {model: new-model}
        """)
        let s = try f.settings()
        #expect(s.run.minTurns == 2 && s.run.maxTurns == 6)
        #expect(s.run.seedQuestion == "new question")
        #expect(s.backend == "openai")
        #expect(s.agent(.qaGenerator).model == "new-model")
        #expect(s.agent(.qaGenerator).temperature == 0.2)     // key by key: the older agent's other keys stay
        let w = s.tree.warnings
        #expect(w.contains { $0.contains("config.yaml:2: run.min_turns ignored") && $0.contains("run.turns.min") }, "\(w)")
        #expect(w.contains { $0.contains("config.yaml:4: run.seed_question ignored") && $0.contains("config.yaml:11") }, "\(w)")
        #expect(w.contains { $0.contains("config.yaml:13: llm.backend ignored") && $0.contains("llm.mode") }, "\(w)")
        #expect(w.contains { $0.contains("config.yaml:16: llm.agents.qa_generator.model ignored") }, "\(w)")
        #expect(!w.contains { $0.contains("temperature") }, "\(w)")
    }

    @Test func errorsInTheNewLayoutPointAtTheLineTheUserWrote() throws {
        let f = try ConfigFile("tools:\n  retrieval:\n    top_k: 0\n")
        let message = f.configError()
        #expect(message.contains("config.yaml:3"), "\(message)")
    }

    @Test func keysWithoutEffectAreNamedInOneWarning() throws {
        let f = try ConfigFile("""
        models:
          use_reranker: true
          reranker_model: some/reranker
        tools:
          retrieval:
            embeddings: {device: cuda, model_kwargs: {a: 1}}
            reranker: {candidates: 20}
        """)
        let w = try f.tree().warnings
        #expect(w.count == 1, "\(w)")
        let one = w.first ?? ""
        #expect(one.hasPrefix(f.path + ": "), "\(one)")
        for key in ["models.use_reranker (line 2)", "models.reranker_model (line 3)", "tools.retrieval.embeddings.device (line 6)",
                    "tools.retrieval.embeddings.model_kwargs (line 6)", "tools.retrieval.reranker.candidates (line 7)"] {
            #expect(one.contains(key), "\(key) not in \(one)")
        }
    }

    @Test func unknownKeysInsideNewSectionsAreReported() throws {
        let f = try ConfigFile("run:\n  turns:\n    min: 2\n    max: 3\n    maxx: 4\ntools:\n  retrieval:\n    topk: 3\n")
        let unknown = try f.tree().unknownKeys
        #expect(unknown.contains { $0.hasSuffix(":5: run.turns.maxx") }, "\(unknown)")
        #expect(unknown.contains { $0.hasSuffix(":8: tools.retrieval.topk") }, "\(unknown)")
    }

    @Test func newEnvironmentVariablesApply() throws {
        let f = try ConfigFile("run:\n  turns: {mode: range, min: 2, max: 4}\n")
        let s = try f.settings(["DISTRIBUTED_BACKEND": "ray", "SERPER_NUM_RESULTS": "7", "MAX_TURNS": "6"])
        #expect(s.tree.value(at: "tools.serper_num_results") == .int(7))
        #expect(s.tree.value(at: "run.distributed.executor") == .string("ray"))
        #expect(s.run.maxTurns == 6)   // upstream's newer loader fails here (its mirrors disagree)
    }

    @Test func questionSeedStaysTheRandomSeed() throws {
        // Upstream's newer version reads question_seed as the seed question; ours keeps it a seed.
        let f = try ConfigFile("run:\n  question_seed: \"42\"\n")
        let s = try f.settings(["QUESTION_SEED": "7"])
        #expect(s.run.questionSeed == "7" && s.run.seedQuestion == "")
    }
}
