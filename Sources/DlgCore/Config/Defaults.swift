/// Upstream dlgforge's DEFAULT_CONFIG, the base that a user's YAML is deep-merged over.
enum ConfigDefaults {
    static let reasons: [String] = [
        "irrelevant", "incorrect", "hallucinated", "weak_grounding", "vague", "incomplete", "unsafe", "other",
    ]

    /// Section by section, in upstream's order.
    static var tree: JSON {
        .obj([
            "run": runSection, "ray": raySection, "store": storeSection, "models": modelsSection,
            "llm": llmSection, "retrieval": retrievalSection, "coverage": coverageSection, "tools": toolsSection,
            "personas": personasSection, "judge": judgeSection, "saving": savingSection,
        ])
    }

    static var runSection: JSON {
        .obj([
            "n_turns": 2, "batch_size": 1, "total_samples": 0, "min_turns": 0, "max_turns": 0,
            "turn_count_distribution": "poisson", "turn_count_mean": 0.0,
            "target_languages": ["en"], "seed_question": "", "question_seed": "",
            "run_id": "", "resume_run_id": "",
            "seed_topics_path": "data/seeds/topics.yaml", "seed_topics_variant": "",
            "seed_topics_probability": 0.35, "seed_topics_enabled": true,
            "distributed": .obj([
                "enabled": false, "executor": "ray", "shards": 0, "max_retries": 3,
                "spawn": .obj(["coordinator": true, "workers": true]),
            ]),
        ])
    }

    static var raySection: JSON {
        .obj([
            "address": "auto", "auto_start_local": true, "namespace": "dlgforge",
            "actor": .obj([
                "num_cpus": 1.0, "num_gpus": 0.0, "coordinator_num_cpus": 1.0,
                "replicas_qa": 1, "replicas_complete": 1,
            ]),
        ])
    }

    static var storeSection: JSON {
        .obj([
            "backend": "postgres",
            "postgres": .obj([
                "dsn": "", "min_pool_size": 5, "max_pool_size": 30, "statement_timeout_ms": 30000,
                "reconnect_timeout_s": 30,  // ours: how long a lost connection is retried
            ]),
        ])
    }

    static var modelsSection: JSON {
        .obj([
            "embedding_model": "", "fallback_embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
            "use_reranker": false, "reranker_model": "Qwen/Qwen3-Reranker-4B", "reranker_backend": "qwen3",
            "reranker_instruction": "", "reranker_max_length": 8192, "qwen3_reranker_cmd": "",
            "reranker_candidates": 12, "reranker_batch_size": 16,
        ])
    }

    static var llmSection: JSON {
        .obj([
            "backend": "openai", "provider": "", "model": "", "base_url": "", "api_key": "",
            "api_key_env": "", "temperature": nil, "max_tokens": nil, "top_p": nil, "timeout": nil,
            "max_retries": nil, "extra": .object(JSONObject()),
            // Ours: the most a chat, embeddings or /models reply may hold (LLMLayerSettings).
            "max_response_bytes": .int(LLMLayerSettings.defaultMaxResponseBytes),
            "routing": .obj(["strategy": "weighted_least_inflight", "endpoints": []]),
            "vllm": .obj([
                "model": "", "served_model_name": "", "replicas": 1, "num_gpus_per_replica": 1,
                "host": "0.0.0.0", "advertise_host": "127.0.0.1", "port_start": 18000,
                "tensor_parallel_size": 1, "gpu_memory_utilization": 0.9, "max_num_seqs": 256,
                "health_timeout_s": 180, "auto_stop_on_exit": true,
            ]),
            "agents": .obj([
                "qa_generator": .object(JSONObject()), "kb_responder": .object(JSONObject()),
                "qa_judge": .object(JSONObject()),
            ]),
        ])
    }

    static var retrievalSection: JSON {
        .obj([
            "default_k": 4, "chunk_size": 750, "overlap": 150, "persist_dir": "knowledge_index",
            "rebuild_index": false, "skip_if_unchanged": true, "embedding_model": "",
            "embedding_backend": "sentence_transformers", "embedding_device": "auto",
            "fallback_on_cpu": true, "embedding_model_kwargs": .object(JSONObject()),
            "embedding_tokenizer_kwargs": .object(JSONObject()),
            "embedding_encode_kwargs": .object(JSONObject()),
            "mode": "auto", "generator_snippets": 6,
        ])
    }

    static var coverageSection: JSON {
        .obj([
            "doc_coverage_mode": "balanced", "doc_coverage_epsilon": 0.15,
            "doc_coverage_fraction": 0.2, "question_dedup_retries": 3,
            "near_dedup_threshold": 0.0, "semantic_dedup_threshold": 0.0, "dedup_against_runs": .array([]),
        ])
    }

    static var toolsSection: JSON {
        .obj(["web_search_enabled": false, "serper_num_results": 5, "serper_timeout": 30])
    }

    static var personasSection: JSON {
        .obj(["enabled": true, "path": "personas.yaml"])
    }

    static var judgeSection: JSON {
        .obj([
            "enabled": true, "mode": "offline", "granularity": "turn", "reasons": JSON(reasons),
        ])
    }

    static var savingSection: JSON {
        .obj([
            "output_dir": "outputs",
            "raw_completions": false,
            "filters": .obj(["min_judge_score": .null, "exclude_reasons": .array([]), "min_turns": 0, "near_dedup_threshold": 0.0]),
            "output_columns": .obj([
                "messages": "messages", "messages_with_tools": "messages_with_tools",
                "metadata": "metadata", "user_reasoning": "user_reasoning",
                "assistant_reasoning": "assistant_reasoning", "judge": "judge",
            ]),
            "hf_push": .obj([
                "enabled": false, "auto_push_on_run": false, "repo_id": "", "repo_type": "dataset",
                "export_dir": .string(RunLayout.hubExportFolder), "include_run_state": false, "private": true,
                "commit_message": "Update synthetic dataset export",
                "source_file": .string(RunLayout.judgedFile), "generate_stats": false,
                "stats_file": .string(RunLayout.hubStatsFile), "generate_plots": false, "plots_dir": "plots",
                "clean_remote": false,
            ]),
        ])
    }
    enum Kind { case int, double, bool, string, list, json, jsonList }

    /// Environment variables that override one config key each (upstream-facts section 4).
    static let environmentOverrides: [(variable: String, path: String, kind: Kind)] = [
        ("N_TURNS", "run.n_turns", .int), ("BATCH_SIZE", "run.batch_size", .int),
        ("TOTAL_SAMPLES", "run.total_samples", .int), ("MIN_TURNS", "run.min_turns", .int),
        ("MAX_TURNS", "run.max_turns", .int), ("TURN_COUNT_DISTRIBUTION", "run.turn_count_distribution", .string),
        ("TURN_COUNT_MEAN", "run.turn_count_mean", .double), ("QUESTION", "run.seed_question", .string),
        ("QUESTION_SEED", "run.question_seed", .string), ("RUN_ID", "run.run_id", .string),
        ("RESUME_RUN_ID", "run.resume_run_id", .string), ("SEED_TOPICS_PATH", "run.seed_topics_path", .string),
        ("SEED_TOPICS_VARIANT", "run.seed_topics_variant", .string),
        ("SEED_TOPICS_PROBABILITY", "run.seed_topics_probability", .double),
        ("SEED_TOPICS_ENABLED", "run.seed_topics_enabled", .bool),
        ("TARGET_LANGUAGE", "run.target_languages", .list), ("TARGET_LANGUAGES", "run.target_languages", .list),
        ("DISTRIBUTED_ENABLED", "run.distributed.enabled", .bool),
        ("DISTRIBUTED_EXECUTOR", "run.distributed.executor", .string),
        ("DISTRIBUTED_BACKEND", "run.distributed.executor", .string),
        ("DISTRIBUTED_SPAWN_COORDINATOR", "run.distributed.spawn.coordinator", .bool),
        ("DISTRIBUTED_SPAWN_WORKERS", "run.distributed.spawn.workers", .bool),
        ("RAY_ADDRESS", "ray.address", .string), ("RAY_AUTO_START_LOCAL", "ray.auto_start_local", .bool),
        ("RAY_NAMESPACE", "ray.namespace", .string), ("RAY_ACTOR_NUM_CPUS", "ray.actor.num_cpus", .double),
        ("RAY_ACTOR_NUM_GPUS", "ray.actor.num_gpus", .double),
        ("RAY_COORDINATOR_NUM_CPUS", "ray.actor.coordinator_num_cpus", .double),
        ("RAY_REPLICAS_QA", "ray.actor.replicas_qa", .int),
        ("RAY_REPLICAS_COMPLETE", "ray.actor.replicas_complete", .int),
        ("STORE_BACKEND", "store.backend", .string), ("POSTGRES_DSN", "store.postgres.dsn", .string),
        ("KB_CHUNK_SIZE", "retrieval.chunk_size", .int), ("KB_CHUNK_OVERLAP", "retrieval.overlap", .int),
        ("KB_DEFAULT_K", "retrieval.default_k", .int), ("KB_PERSIST_DIR", "retrieval.persist_dir", .string),
        ("KB_REBUILD_INDEX", "retrieval.rebuild_index", .bool),
        ("KB_SKIP_IF_UNCHANGED", "retrieval.skip_if_unchanged", .bool),
        ("KB_EMBEDDING_BACKEND", "retrieval.embedding_backend", .string),
        ("KB_EMBEDDING_DEVICE", "retrieval.embedding_device", .string),
        ("KB_FALLBACK_ON_CPU", "retrieval.fallback_on_cpu", .bool),
        ("KB_EMBEDDING_MODEL_KWARGS_JSON", "retrieval.embedding_model_kwargs", .json),
        ("KB_EMBEDDING_TOKENIZER_KWARGS_JSON", "retrieval.embedding_tokenizer_kwargs", .json),
        ("KB_EMBEDDING_ENCODE_KWARGS_JSON", "retrieval.embedding_encode_kwargs", .json),
        ("DOC_COVERAGE_MODE", "coverage.doc_coverage_mode", .string),
        ("DOC_COVERAGE_EPSILON", "coverage.doc_coverage_epsilon", .double),
        ("DOC_COVERAGE_FRACTION", "coverage.doc_coverage_fraction", .double),
        ("QUESTION_DEDUP_RETRIES", "coverage.question_dedup_retries", .int),
        ("NEAR_DEDUP_THRESHOLD", "coverage.near_dedup_threshold", .double),
        ("SEMANTIC_DEDUP_THRESHOLD", "coverage.semantic_dedup_threshold", .double),
        ("ENABLE_WEB_TOOLS", "tools.web_search_enabled", .bool),
        ("SERPER_NUM_RESULTS", "tools.serper_num_results", .int), ("SERPER_TIMEOUT", "tools.serper_timeout", .double),
        ("JUDGE_MODE", "judge.mode", .string), ("JUDGE_GRANULARITY", "judge.granularity", .string),
        ("JUDGE_ENABLED", "judge.enabled", .bool), ("OUTPUT_DIR", "saving.output_dir", .string),
        ("HF_PUSH_ENABLED", "saving.hf_push.enabled", .bool),
        ("HF_AUTO_PUSH_ON_RUN", "saving.hf_push.auto_push_on_run", .bool),
        ("HF_PUSH_REPO_ID", "saving.hf_push.repo_id", .string),
        ("HF_PUSH_REPO_TYPE", "saving.hf_push.repo_type", .string),
        ("HF_PUSH_EXPORT_DIR", "saving.hf_push.export_dir", .string),
        ("HF_PUSH_INCLUDE_RUN_STATE", "saving.hf_push.include_run_state", .bool),
        ("HF_PUSH_PRIVATE", "saving.hf_push.private", .bool),
        ("HF_PUSH_COMMIT_MESSAGE", "saving.hf_push.commit_message", .string),
        ("HF_PUSH_SOURCE_FILE", "saving.hf_push.source_file", .string),
        ("HF_PUSH_GENERATE_STATS", "saving.hf_push.generate_stats", .bool),
        ("HF_PUSH_STATS_FILE", "saving.hf_push.stats_file", .string),
        ("HF_PUSH_GENERATE_PLOTS", "saving.hf_push.generate_plots", .bool),
        ("HF_PUSH_PLOTS_DIR", "saving.hf_push.plots_dir", .string),
        // LLM_MODE is the newer layout's name (api | vllm_attach | vllm_managed); it wins over LLM_BACKEND.
        ("LLM_BACKEND", "llm.backend", .string), ("LLM_MODE", "llm.backend", .string),
        ("LLM_ROUTING_STRATEGY", "llm.routing.strategy", .string),
        ("LLM_ROUTING_ENDPOINTS_JSON", "llm.routing.endpoints", .jsonList),
        ("FALLBACK_EMBEDDING_MODEL", "models.fallback_embedding_model", .string),
    ]
}
