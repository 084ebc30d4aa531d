// Upstream's newer config layout (dlgforge 9cd6d4f: run.turns, run.data.seeding, llm.mode,
// llm.agents.user|assistant|judge, tools.retrieval, tools.web_search, run.distributed.backend and
// run.distributed.ray) mapped onto the layout the settings read (0dd68fc), before the defaults are
// merged under the user's file. A user keeps whichever generation they have; a file may mix them.
//
// The rule for a mixed file: the newer layout's key wins, and every older key it overrides with a
// different value is named in a warning with its file:line (upstream itself decides case by case,
// sometimes for the old key, sometimes for the new: see reference/upstream-config-v2.md section 2).

import Foundation

enum ConfigLayoutV2 {
    /// The user's tree in the older layout, with what the caller reports.
    struct Result {
        var tree: JSON
        /// Messages for the user (`file:line: ...`), already located.
        var warnings: [String] = []
        /// Key paths of the newer layout that no version defines (reported with the unknown keys).
        var unknown: [String] = []
    }

    /// Newer key path → older key path, one setting each.
    static let moves: [(new: String, old: String)] = [
        ("run.data.seeding.question", "run.seed_question"),
        ("run.data.seeding.topics.path", "run.seed_topics_path"),
        ("run.data.seeding.topics.enabled", "run.seed_topics_enabled"),
        ("run.data.seeding.topics.variant", "run.seed_topics_variant"),
        ("run.data.seeding.topics.probability", "run.seed_topics_probability"),
        ("run.distributed.backend", "run.distributed.executor"),
        ("run.distributed.ray.address", "ray.address"),
        ("run.distributed.ray.auto_start_local", "ray.auto_start_local"),
        ("run.distributed.ray.namespace", "ray.namespace"),
        ("run.distributed.ray.actor.num_cpus", "ray.actor.num_cpus"),
        ("run.distributed.ray.actor.num_gpus", "ray.actor.num_gpus"),
        ("run.distributed.ray.actor.coordinator_num_cpus", "ray.actor.coordinator_num_cpus"),
        ("run.distributed.ray.actor.replicas_qa", "ray.actor.replicas_qa"),
        ("run.distributed.ray.actor.replicas_complete", "ray.actor.replicas_complete"),
        ("tools.web_search.enabled", "tools.web_search_enabled"),
        ("tools.web_search.serper_num_results", "tools.serper_num_results"),
        ("tools.web_search.serper_timeout", "tools.serper_timeout"),
        ("tools.retrieval.top_k", "retrieval.default_k"),
        ("tools.retrieval.chunking.chunk_size", "retrieval.chunk_size"),
        ("tools.retrieval.chunking.chunk_overlap", "retrieval.overlap"),
        ("tools.retrieval.index.persist_dir", "retrieval.persist_dir"),
        ("tools.retrieval.index.rebuild", "retrieval.rebuild_index"),
        ("tools.retrieval.index.skip_if_unchanged", "retrieval.skip_if_unchanged"),
        ("tools.retrieval.embeddings.model", "retrieval.embedding_model"),
        ("tools.retrieval.embeddings.backend", "retrieval.embedding_backend"),
        ("tools.retrieval.embeddings.device", "retrieval.embedding_device"),
        ("tools.retrieval.embeddings.fallback_on_cpu", "retrieval.fallback_on_cpu"),
        ("tools.retrieval.embeddings.model_kwargs", "retrieval.embedding_model_kwargs"),
        ("tools.retrieval.embeddings.tokenizer_kwargs", "retrieval.embedding_tokenizer_kwargs"),
        ("tools.retrieval.embeddings.encode_kwargs", "retrieval.embedding_encode_kwargs"),
        ("tools.retrieval.embeddings.fallback_model", "models.fallback_embedding_model"),
        ("tools.retrieval.reranker.enabled", "models.use_reranker"),
        ("tools.retrieval.reranker.model", "models.reranker_model"),
        ("tools.retrieval.reranker.backend", "models.reranker_backend"),
        ("tools.retrieval.reranker.instruction", "models.reranker_instruction"),
        ("tools.retrieval.reranker.max_length", "models.reranker_max_length"),
        ("tools.retrieval.reranker.candidates", "models.reranker_candidates"),
        ("tools.retrieval.reranker.batch_size", "models.reranker_batch_size"),
        ("tools.retrieval.reranker.cmd", "models.qwen3_reranker_cmd"),
        // Ours, for a file written in the newer layout throughout.
        ("tools.retrieval.mode", "retrieval.mode"),
        ("tools.retrieval.generator_snippets", "retrieval.generator_snippets"),
    ]

    /// The newer layout's sections: what is left in them after the moves is unknown.
    static let sections = ["run.turns", "run.data", "run.distributed.ray", "tools.web_search", "tools.retrieval"]

    /// Role names of the newer layout beside the agent names the settings use.
    static let roles: [(role: String, agent: String)] = [
        ("user", "qa_generator"), ("assistant", "kb_responder"), ("judge", "qa_judge"),
    ]

    /// Keys accepted in either layout that change nothing here (older layout paths): upstream uses them
    /// for a local sentence-transformers model and a reranker, which this version does not have.
    static let noEffect: [String] = [
        "models.use_reranker", "models.reranker_model", "models.reranker_backend", "models.reranker_instruction",
        "models.reranker_max_length", "models.qwen3_reranker_cmd", "models.reranker_candidates",
        "models.reranker_batch_size", "models.fallback_embedding_model", "retrieval.embedding_backend",
        "retrieval.embedding_device", "retrieval.fallback_on_cpu", "retrieval.embedding_model_kwargs",
        "retrieval.embedding_tokenizer_kwargs", "retrieval.embedding_encode_kwargs",
    ]

    static func normalize(_ user: JSON, lines: inout [String: Int], file: String) throws(DlgError) -> Result {
        var state = State(tree: user, lines: lines, file: file)
        try state.turns()
        for (new, old) in moves { state.move(new, to: old) }
        try state.mode()
        state.agents()
        for section in sections { state.leftovers(section) }
        state.noEffectWarning()
        lines = state.lines
        return Result(tree: state.tree, warnings: state.warnings, unknown: state.unknown)
    }

    struct State {
        var tree: JSON
        var lines: [String: Int]
        let file: String
        var warnings: [String] = []
        var unknown: [String] = []
        /// Older path → the newer path the user wrote, for messages.
        var written: [String: String] = [:]

        func at(_ path: String) -> String {
            if let line = lines[path] { return "\(file):\(line)" }
            return file
        }

        func get(_ path: String) -> JSON? {
            var node: JSON? = tree
            for part in path.split(separator: ".") { node = node?[String(part)] }
            return node
        }

        mutating func set(_ path: String, _ value: JSON?) {
            ConfigLayoutV2.set(&tree, Array(path.split(separator: ".").map(String.init)), value)
        }

        /// Moves `new` to `old`; the newer key wins, the older one is named when it said otherwise.
        mutating func move(_ new: String, to old: String) {
            guard let value = get(new) else { return }
            set(new, nil)
            place(value, at: old, from: new)
        }

        mutating func place(_ value: JSON, at old: String, from new: String) {
            if let previous = get(old), previous != value, !previous.isNull {
                warnings.append("\(at(old)): \(old) ignored: \(new) (\(at(new))) sets it too, and the newer layout wins")
            }
            set(old, value)
            if let line = lines[new] { lines[old] = line }
            written[old] = new
        }

        /// `run.turns.{mode, exact, min, max, distribution, mean}` → n_turns, min/max_turns, turn_count_*.
        mutating func turns() throws(DlgError) {
            guard let turns = get("run.turns") else { return }
            guard let t = turns.objectValue else {
                throw DlgError.config("\(at("run.turns")): run.turns: \(turns.typeName) is not allowed; expected a mapping (mode, exact, min, max, distribution, mean)")
            }
            func present(_ k: String) -> JSON? {
                guard let v = t[k], !v.isNull else { return nil }
                if case .string(let s) = v, s.trimmingCharacters(in: .whitespaces).isEmpty { return nil }
                return v
            }
            var mode = present("mode")?.stringValue?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            if present("mode") != nil, mode.isEmpty {
                throw DlgError.config("\(at("run.turns.mode")): run.turns.mode: \(t["mode"]!.serialized()) is not allowed; expected exact or range")
            }
            // Upstream never infers the mode (its defaults always say range, so `exact: 4` alone does nothing);
            // we take a lone `exact` at its word.
            if mode.isEmpty { mode = present("exact") != nil && present("min") == nil && present("max") == nil ? "exact" : "range" }
            guard mode == "exact" || mode == "range" else {
                throw DlgError.config("\(at("run.turns.mode")): run.turns.mode: \"\(mode)\" is not allowed; expected exact or range")
            }
            for k in ["mode", "exact", "min", "max", "distribution", "mean"] { set("run.turns.\(k)", nil) }
            if mode == "exact" {
                guard let exact = present("exact") else {
                    throw DlgError.config("\(at("run.turns")): run.turns.exact: nothing is set; run.turns.mode: exact needs exact: <turns per dialogue>")
                }
                place(exact, at: "run.n_turns", from: "run.turns.exact")
                // A range would override n_turns; exact mode means none.
                place(0, at: "run.min_turns", from: "run.turns.mode")
                place(0, at: "run.max_turns", from: "run.turns.mode")
            } else {
                if let v = present("min") { place(v, at: "run.min_turns", from: "run.turns.min") }
                if let v = present("max") { place(v, at: "run.max_turns", from: "run.turns.max") }
                if let v = present("distribution") { place(v, at: "run.turn_count_distribution", from: "run.turns.distribution") }
                if let v = present("mean") { place(v, at: "run.turn_count_mean", from: "run.turns.mean") }
            }
        }

        /// `llm.mode` (api | vllm_attach | vllm_managed) → llm.backend (api is openai).
        mutating func mode() throws(DlgError) {
            guard let raw = get("llm.mode") else { return }
            set("llm.mode", nil)
            if raw.isNull { return }
            let text = (raw.stringValue ?? "").trimmingCharacters(in: .whitespaces).lowercased()
            let value: String
            switch text {
            case "api", "openai": value = "openai"
            case "vllm_attach", "vllm_managed": value = text
            default:
                throw DlgError.config("\(at("llm.mode")): llm.mode: \(raw.serialized()) is not allowed; expected api, vllm_attach or vllm_managed")
            }
            if let b = get("llm.backend")?.stringValue?.lowercased(), (b == "api" ? "openai" : b) == value {
                set("llm.backend", .string(value))
                return
            }
            place(.string(value), at: "llm.backend", from: "llm.mode")
        }

        /// `llm.agents.user|assistant|judge` → qa_generator|kb_responder|qa_judge, key by key.
        mutating func agents() {
            for (role, agent) in roles {
                let rolePath = "llm.agents.\(role)"
                guard let v = get(rolePath) else { continue }
                set(rolePath, nil)
                guard let o = v.objectValue else {
                    // Not a mapping: the settings report it under the agent's name, at this line.
                    place(v, at: "llm.agents.\(agent)", from: rolePath)
                    continue
                }
                if get("llm.agents.\(agent)") == nil, let line = lines[rolePath] { lines["llm.agents.\(agent)"] = line }
                for (k, value) in o.pairs {
                    place(value, at: "llm.agents.\(agent).\(k)", from: "\(rolePath).\(k)")
                }
            }
        }

        /// What is left in a newer-layout section was not mapped: report it, drop it.
        mutating func leftovers(_ section: String) {
            guard let v = get(section) else { return }
            collect(v, path: section)
            set(section, nil)
            // Remove parents the moves emptied (run.data, tools) so nothing empty is merged.
            var parent = section
            while let dot = parent.lastIndex(of: ".") {
                parent = String(parent[..<dot])
                if let p = get(parent)?.objectValue, p.isEmpty { set(parent, nil) } else { break }
            }
        }

        mutating func collect(_ v: JSON, path: String) {
            if let o = v.objectValue, !o.isEmpty {
                for (k, child) in o.pairs { collect(child, path: "\(path).\(k)") }
            } else if v.objectValue == nil {
                unknown.append(path)
            }
        }

        /// One warning naming every key the file sets that has no effect here.
        mutating func noEffectWarning() {
            var named: [String] = []
            for old in ConfigLayoutV2.noEffect where get(old) != nil {
                named.append("\(written[old] ?? old)" + (lines[old].map { " (line \($0))" } ?? ""))
            }
            if !named.isEmpty {
                warnings.append("\(file): accepted without effect here (no local sentence-transformers model or reranker; retrieval is BM25, with embeddings from the endpoint when tools.retrieval.embeddings.model / retrieval.embedding_model is set): " + named.joined(separator: ", "))
            }
        }
    }

    static func set(_ root: inout JSON, _ path: [String], _ value: JSON?) {
        guard let key = path.first else { return }
        guard case .object(var o) = root else {
            if value == nil { return }
            root = .object(JSONObject())
            set(&root, path, value)
            return
        }
        if path.count == 1 {
            o[key] = value
        } else {
            var child = o[key] ?? .object(JSONObject())
            if value == nil && o[key] == nil { return }
            set(&child, Array(path.dropFirst()), value)
            o[key] = child
        }
        root = .object(o)
    }
}
