import Foundation

/// The run section, validated.
public struct RunSettings: Sendable {
    public var nTurns: Int
    public var batchSize: Int
    public var totalSamples: Int
    public var minTurns: Int
    public var maxTurns: Int
    public var turnCountDistribution: String
    public var turnCountMean: Double
    public var targetLanguages: [String]
    public var seedQuestion: String
    public var questionSeed: String
    public var runID: String
    public var resumeRunID: String
    public var seedTopicsPath: String
    public var seedTopicsVariant: String
    public var seedTopicsProbability: Double
    public var seedTopicsEnabled: Bool
    public var distributedEnabled: Bool
}

public struct RetrievalSettings: Sendable {
    public var defaultK: Int
    public var chunkSize: Int
    public var overlap: Int
    public var persistDir: String
    public var rebuildIndex: Bool
    public var skipIfUnchanged: Bool
    public var embeddingModel: String
    /// `tools` (the model calls vector_db_search), `prompt` (passages retrieved before the call),
    /// `auto` (tools, falling back to prompt when the endpoint rejects tools).
    public var mode: String
    /// Passages shown to qa_generator per question (upstream: 6).
    public var generatorSnippets: Int
}

public struct CoverageSettings: Sendable {
    public var docCoverageMode: String
    public var epsilon: Double
    public var fraction: Double
    public var questionDedupRetries: Int
    /// Jaccard similarity of two questions' shingle sets at or above which the later one is a near
    /// duplicate (`NearDuplicates`); 0 turns near-duplicate dedup off.
    public var nearDedupThreshold: Double
    /// `coverage.dedup_against_runs`: earlier runs of the store the run's questions are checked against.
    public var dedupAgainstRuns: DedupAgainstRuns = .none
}

public struct JudgeSettings: Sendable {
    public var enabled: Bool
    public var mode: String
    public var granularity: JudgeGranularity
    public var reasons: [String]
    /// Judge during generation: enabled and mode online.
    public var online: Bool { enabled && mode == "online" }
}

public struct SavingSettings: Sendable {
    public var outputDir: String
    public var columns: [String: String]
    public var hfPush: JSON
    /// Ours: keep each agent's whole chat completion in the record, for upstream's
    /// `raw_results[].qa_raw/kb_raw/judge_raw` (otherwise `{}`: they would grow every record that
    /// crosses the stages by a few kilobytes a turn).
    public var rawCompletions: Bool
}

/// Everything a stage needs, resolved and validated once.
public struct Settings: Sendable {
    public let tree: ConfigTree
    public var run: RunSettings
    public var retrieval: RetrievalSettings
    public var coverage: CoverageSettings
    public var judge: JudgeSettings
    public var saving: SavingSettings
    /// Token prices for the cost shown in the progress line and the summary (ours).
    public var pricing: Pricing
    /// `saving.filters.*` (ours): what goes into the filtered dataset file.
    public var filters: QualityFilterSettings
    /// The error storm and the response cache (ours).
    public var llmLayer: LLMLayerSettings
    public var personasEnabled: Bool
    public var personasPath: String
    public var webSearchEnabled: Bool
    /// The web_search tool (upstream's keys, SERPER_API_KEY, ours: tools.serper_url).
    public var webSearch: WebSearchSettings
    public var backend: String
    /// Where the run's shared state lives (Config/StoreSettings.swift).
    public var store: StoreSettings
    /// `coverage.semantic_dedup_threshold` and its embedding model (Config/SemanticDedupSettings.swift).
    public var semanticDedup: SemanticDedupSettings

    /// What the config asks for that this version does not do yet, one sentence each, so a run says
    /// so instead of quietly doing less (the keys themselves are valid upstream keys).
    public var notYetSupported: [String] {
        var out: [String] = []
        if run.distributedEnabled {
            out.append("run.distributed.enabled: distributed runs (Ray, Postgres, vLLM) come with dlg-cluster; this run is local")
        }
        if backend == "vllm_managed" {
            out.append("llm.backend: vllm_managed: starting vLLM comes with dlg-cluster; the configured endpoints are used as they are")
        }
        if webSearchEnabled && !webSearch.usable {
            out.append("tools.web_search_enabled: SERPER_API_KEY is not set, so the web_search tool is not offered; answers use the knowledge base only")
        }
        return out
    }

    /// Upload the dataset to the Hub at the end of dlg-run (upstream's rule: enabled, auto_push_on_run, a repo_id).
    public var hfPushOnRun: Bool {
        saving.hfPush["enabled"]?.boolValue == true && saving.hfPush["auto_push_on_run"]?.boolValue == true
            && !(saving.hfPush["repo_id"]?.stringValue ?? "").isEmpty
    }
    public var agents: [AgentName: AgentSettings]

    public var projectRoot: String { tree.projectRoot }
    /// Absolute output folder.
    public var outputDir: String { tree.resolvePath(saving.outputDir) }
    public var logsDir: String { tree.resolvePath(RunLayout.logsFolder) }
    /// Where every file of a run is (`RunLayout`).
    public var layout: RunLayout { RunLayout(outputDir: outputDir, logsDir: logsDir) }
    public var knowledgeDir: String { tree.resolvePath("knowledge") }
    public var indexDir: String { tree.resolvePath(retrieval.persistDir) }
    /// The file dedup store, which is also upstream's coverage ledger.
    public var ledgerPath: String { layout.ledgerPath }

    /// Loads and validates a config file.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(DlgError) -> Settings
    {
        try Settings(tree: ConfigLoader.load(path: path, environment: environment))
    }

    public init(tree: ConfigTree) throws(DlgError) {
        self.tree = tree
        Self.registerSecrets(tree)
        let r = ConfigReader(tree: tree)
        run = try RunSettings.read(r)
        retrieval = try RetrievalSettings.read(r)
        coverage = CoverageSettings(
            docCoverageMode: try r.choice("coverage.doc_coverage_mode", ["balanced", "off"]),
            epsilon: try r.double("coverage.doc_coverage_epsilon", min: 0, max: 1),
            fraction: min(1, max(0.05, try r.double("coverage.doc_coverage_fraction", min: 0))),
            questionDedupRetries: try r.int("coverage.question_dedup_retries", min: 0, max: 100),
            nearDedupThreshold: try r.double("coverage.near_dedup_threshold", min: 0, max: 1))
        coverage.dedupAgainstRuns = try DedupAgainstRuns(reader: r)
        judge = try JudgeSettings.read(r)
        saving = try SavingSettings.read(r)
        pricing = try Pricing.read(r)
        filters = try QualityFilterSettings(reader: r, allowedReasons: judge.reasons)
        llmLayer = try LLMLayerSettings.read(r)
        personasEnabled = try r.bool("personas.enabled")
        personasPath = try r.string("personas.path")
        webSearchEnabled = try r.bool("tools.web_search_enabled")
        webSearch = try WebSearchSettings.read(r)
        backend = try r.choice("llm.backend", ["openai", "vllm_attach", "vllm_managed"], aliases: ["api": "openai"])
        store = try StoreSettings.read(r, distributed: run.distributedEnabled)
        if store.usesPostgres { llmLayer.batch.postgresDSN = store.dsn }
        semanticDedup = try SemanticDedupSettings.read(r, embeddingModel: retrieval.embeddingModel)
        var agents: [AgentName: AgentSettings] = [:]
        for agent in AgentName.allCases { agents[agent] = try AgentSettings.resolve(agent, reader: r) }
        self.agents = agents
        // A dry run's sample: everything to its mock, and no web search (Serper is not mocked).
        if let mock = try SampleEndpoint.url(tree.environment) {
            self.agents = SampleEndpoint.redirect(agents, to: mock, backend: backend)
            webSearchEnabled = false
        }
    }

    /// Where keys go that the user may not expect, one line each (agents sharing an endpoint: once).
    public var keyWarnings: [String] {
        var seen = Set<String>()
        return AgentName.allCases.flatMap { agent($0).keyNotes }.filter { seen.insert($0).inserted }
    }

    /// Registers with `Redact` the secrets the config and environment hold beyond the agents' keys: any
    /// string under a key that names a secret (`api_key`, `token`, `password`, `secret`, `dsn`), the
    /// passwords of DSNs, the cluster's vLLM key and the `DLG_SECRET_<n>` values a shard is given.
    static func registerSecrets(_ tree: ConfigTree) {
        func walk(_ v: JSON, key: String) {
            switch v {
            case .object(let o): for (k, c) in o.pairs { walk(c, key: k) }
            case .array(let a): for c in a { walk(c, key: key) }
            case .string(let s) where !s.isEmpty && Redact.isSecretKey(key):
                if key.lowercased().hasSuffix("dsn") { Redact.register(dsn: s) } else { Redact.register(s) }
            default: break
            }
        }
        walk(tree.root, key: "")
        let env = tree.environment
        for (name, value) in env where name.hasPrefix("DLG_SECRET_") || name == "DLG_CLUSTER_VLLM_KEY"
            || name == "SERPER_API_KEY" || name == "HF_TOKEN" || name == "HUGGINGFACE_HUB_TOKEN" || name == "PGPASSWORD" {
            Redact.register(value)
        }
        for name in ["POSTGRES_DSN", "DLGFORGE_POSTGRES_DSN", "DATABASE_URL"] { if let d = env[name] { Redact.register(dsn: d) } }
    }

    /// Settings of one agent; the conversation judge uses qa_judge's.
    public func agent(_ name: AgentName) -> AgentSettings { agents[name]! }

    /// Fails with exit 78 when an agent that this stage needs has no model or no endpoint.
    public func requireAgent(_ name: AgentName) throws(DlgError) {
        let a = agent(name)
        let base = "llm.agents.\(name.rawValue)"
        if let why = a.unusable { throw DlgError.config(why) }
        if backend == "vllm_attach", !a.endpoints.contains(where: \.routed) {
            throw DlgError.config("\(tree.location(of: "llm.backend")): llm.backend (llm.mode) vllm_attach needs llm.routing.endpoints, the vLLM servers to attach to (none for \(name.rawValue)); list them there, or use llm.backend: openai (llm.mode: api) with a base_url")
        }
        if a.model.isEmpty && a.endpoints.allSatisfy({ $0.model.isEmpty }) {
            throw DlgError.config("\(tree.file): \(base).model: no model for \(name.rawValue); set \(base).model, llm.model, LLM_MODEL or OPENAI_MODEL")
        }
        if a.endpoints.isEmpty {
            throw DlgError.config("\(tree.file): \(base).base_url: no endpoint for \(name.rawValue); set llm.base_url, OPENAI_BASE_URL, an api key for OpenAI, or llm.routing.endpoints")
        }
    }
}

extension RunSettings {
    /// `run.*`, validated (exit 78).
    static func read(_ r: ConfigReader) throws(DlgError) -> RunSettings {
        let tree = r.tree
        let batch = try r.int("run.batch_size", min: 1)
        let nTurns = try r.int("run.n_turns", min: 1)
        var minT = try r.int("run.min_turns", min: 0)
        var maxT = try r.int("run.max_turns", min: 0)
        if minT <= 0 && maxT <= 0 { minT = nTurns; maxT = nTurns }
        else if minT <= 0 { minT = maxT }
        else if maxT <= 0 { maxT = minT }
        if minT > maxT {
            throw r.fail("run.min_turns", tree.value(at: "run.min_turns"),
                         "a value no greater than run.max_turns (\(maxT))")
        }
        var languages: [String] = []
        for l in try r.stringList("run.target_languages") where !languages.contains(l) { languages.append(l) }
        if languages.isEmpty { languages = ["en"] }
        for l in languages where l.contains("/") || l.contains("..") {
            throw r.fail("run.target_languages", .string(l), "language codes such as en, fr, ar")
        }
        var total = try r.int("run.total_samples", min: 0)
        if total == 0 { total = max(batch, 1) }
        let run = RunSettings(
            nTurns: nTurns, batchSize: batch, totalSamples: total, minTurns: minT, maxTurns: maxT,
            turnCountDistribution: try r.choice(
                "run.turn_count_distribution", ["uniform", "poisson", "exponential", "fixed"],
                aliases: ["exp": "exponential", "pois": "poisson"]),
            turnCountMean: try r.double("run.turn_count_mean"),
            targetLanguages: languages,
            seedQuestion: try r.string("run.seed_question"),
            questionSeed: try r.string("run.question_seed"),
            runID: try r.string("run.run_id"),
            resumeRunID: try r.string("run.resume_run_id"),
            seedTopicsPath: try r.string("run.seed_topics_path"),
            seedTopicsVariant: try r.string("run.seed_topics_variant"),
            seedTopicsProbability: try r.double("run.seed_topics_probability", min: 0, max: 1),
            seedTopicsEnabled: try r.bool("run.seed_topics_enabled"),
            distributedEnabled: try r.bool("run.distributed.enabled"))
        for (key, id) in [("run.run_id", run.runID), ("run.resume_run_id", run.resumeRunID)] where !id.isEmpty {
            if let problem = SafeID.problem(id) { throw r.fail(key, .string(id), "an id that names a folder (it \(problem))") }
        }
        return run
    }
}

extension RetrievalSettings {
    /// `retrieval.*` (the embedding model may also come from `models.embedding_model` or EMBEDDING_MODEL_NAME).
    static func read(_ r: ConfigReader) throws(DlgError) -> RetrievalSettings {
        let chunk = try r.int("retrieval.chunk_size", min: 50)
        let overlap = try r.int("retrieval.overlap", min: 0)
        if overlap >= chunk {
            throw r.fail("retrieval.overlap", .int(overlap), "less than retrieval.chunk_size (\(chunk))")
        }
        var embedding = try r.string("retrieval.embedding_model")
        if embedding.isEmpty { embedding = try r.string("models.embedding_model") }
        if embedding.isEmpty { embedding = r.tree.environment["EMBEDDING_MODEL_NAME"] ?? "" }
        return RetrievalSettings(
            defaultK: try r.int("retrieval.default_k", min: 1, max: 50), chunkSize: chunk, overlap: overlap,
            persistDir: try r.string("retrieval.persist_dir"), rebuildIndex: try r.bool("retrieval.rebuild_index"),
            skipIfUnchanged: try r.bool("retrieval.skip_if_unchanged"), embeddingModel: embedding,
            mode: try r.choice("retrieval.mode", ["auto", "tools", "prompt"]),
            generatorSnippets: try r.int("retrieval.generator_snippets", min: 1, max: 12))
    }
}

extension JudgeSettings {
    /// `judge.*`, upstream's granularity spellings included.
    static func read(_ r: ConfigReader) throws(DlgError) -> JudgeSettings {
        var reasons = try r.stringList("judge.reasons")
        if reasons.isEmpty { reasons = ConfigDefaults.reasons }
        return JudgeSettings(
            enabled: try r.bool("judge.enabled"),
            mode: try r.choice("judge.mode", ["online", "offline"]),
            granularity: JudgeGranularity(rawValue: try r.choice(
                "judge.granularity", JudgeGranularity.allCases.map(\.rawValue),
                aliases: ["per_turn": "turn", "turns": "turn", "per_conversation": "conversation",
                          "conv": "conversation", "conversation_level": "conversation"]))!,
            reasons: reasons)
    }
}

extension SavingSettings {
    /// `saving.*` but the filters (`QualityFilterSettings`): the output folder and the column names.
    static func read(_ r: ConfigReader) throws(DlgError) -> SavingSettings {
        var columns: [String: String] = [:]
        let known = ["messages", "messages_with_tools", "metadata", "user_reasoning", "assistant_reasoning", "judge"]
        for k in known { columns[k] = k }
        if let cols = r.tree.value(at: "saving.output_columns")?.objectValue {
            for (k, v) in cols.pairs {
                let key = k == "message_with_tools" ? "messages_with_tools" : k
                guard known.contains(key) else {
                    throw r.fail("saving.output_columns.\(k)", v, "a column among " + known.joined(separator: ", "))
                }
                guard let name = v.stringValue, !name.isEmpty else {
                    throw r.fail("saving.output_columns.\(k)", v, "a non-empty column name")
                }
                columns[key] = name
            }
        }
        let saving = SavingSettings(outputDir: try r.string("saving.output_dir"), columns: columns,
                                    hfPush: r.tree.value(at: "saving.hf_push") ?? .null,
                                    rawCompletions: try r.bool("saving.raw_completions"))
        if saving.outputDir.isEmpty { throw r.fail("saving.output_dir", .string(""), "a folder path") }
        return saving
    }
}
