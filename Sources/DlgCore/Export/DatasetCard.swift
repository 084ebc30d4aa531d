import Foundation

/// The dataset card (README.md) of the export folder, with upstream's front matter; its languages are
/// the data's own (upstream always wrote en and ar).
enum DatasetCard {
    static func render(repoID: String, dataFile: String, records: Int, stats: JSON?, statsFile: String?,
                       plots: [String], languages langs: [String]) -> String {
        let title = repoID.split(separator: "/").last.map(String.init) ?? ""
        var card = """
        ---
        configs:
        - config_name: default
          data_files:
          - split: train
            path: \(dataFile)
        \(languageBlock(langs))task_categories:
        - question-answering
        tags:
        - synthetic
        - rag
        - multi-turn
        ---

        # \(title.isEmpty ? "Synthetic QA Dataset" : title)

        Multi-turn user/assistant dialogues grounded in a knowledge base, generated with dlgforge: a simulated \
        user asks, an assistant answers from retrieved passages, and a judge scores each answer.

        ## Contents

        - `\(dataFile)`: \(records) conversation(s), one JSON object per line (`messages` with `role`/`content`, \
        `messages_with_tools`, `metadata`, `user_reasoning`, `assistant_reasoning`\(dataFile.contains("judged") || dataFile.contains("filtered") ? ", `judge`" : "")).

        """
        if let statsFile { card += "- `\(statsFile)`: dataset statistics.\n" }
        for p in plots { card += "- `\(p)`\n" }
        if let stats {
            let turns = stats["turn_count"]
            let judge = stats["judge"]
            let text = stats["text"]
            card += """

            ## Stats

            - conversations: \(stats["records"]?.intValue ?? 0)
            - languages: \((stats["languages"]?.objectValue?.pairs ?? []).map { "\($0.key) \($0.value.intValue ?? 0)" }.joined(separator: ", "))
            - turns per conversation: min \(show(turns?["min"])), max \(show(turns?["max"])), mean \(show(turns?["avg"]))
            - judge score (mean per conversation): \(show(judge?["avg_score_mean"])) over \(judge?["conversations_with_scores"]?.intValue ?? 0) conversation(s)
            - words per conversation (mean): \(show(text?["avg_words_per_conversation"])); estimated tokens: \(show(text?["avg_tokens_per_conversation_estimate"]))

            """
        }
        if !plots.isEmpty {
            card += "\n## Plots\n\n" + plots.map { "![\(($0 as NSString).lastPathComponent)](\($0))\n" }.joined(separator: "\n")
        }
        // Built from the records' figures only; masked all the same, as every file that leaves.
        return Redact.values(card)
    }

    /// The card's "## Dataset metrics": `metrics.json`'s figures overall and per language (the same
    /// table as report.html's), or nothing without the file. Masked as the rest of the card.
    static func metricsSection(_ metrics: JSON?) -> String {
        guard let metrics, !MetricsTable.rows(metrics).isEmpty else { return "" }
        return Redact.values("""

        ## Dataset metrics

        From `\(RunLayout.metricsFile)`, over the completed dialogues. Words are lowercased runs of letters or \
        digits; distinct-n is unique n-grams over all n-grams; MTLD as McCarthy and Jarvis (2010); the duplicate \
        shares are of the candidate questions; topic diversity is the mean pairwise cosine distance of the \
        questions' embeddings (dlgforge's docs/metrics.md defines each).

        """ + MetricsTable.markdown(metrics))
    }

    /// The front matter's `language:` list in ISO 639 codes the Hub accepts (`morocco` is `ary`);
    /// names without a code are left out, and with none the key is left out.
    static func languageBlock(_ names: [String]) -> String {
        var codes: [String] = []
        for n in names { if let c = LanguageNames.isoCode(n), !codes.contains(c) { codes.append(c) } }
        if codes.isEmpty { return "" }
        return "language:\n" + codes.map { "- \($0)" }.joined(separator: "\n") + "\n"
    }

    static func show(_ v: JSON?) -> String {
        guard let v, v != .null else { return "n/a" }
        if let i = v.intValue, v.doubleValue == Double(i) { return String(i) }
        return v.doubleValue.map { String($0) } ?? v.serialized()
    }
}
