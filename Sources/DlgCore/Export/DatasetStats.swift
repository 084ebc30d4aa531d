import Foundation

/// Upstream's `dataset_stats.json` for the exported ShareGPT file: languages, turn counts, judge
/// scores and text lengths (words split on white space, tokens estimated as characters / 4 rounded
/// up), means to 4 decimals, scores bucketed 0-10, lengths in 12 bins.
public enum DatasetStats {
    /// The statistics of rows added one at a time: a dataset of any size is read once, never held.
    public struct Accumulator {
        let messagesKey: String, metadataKey: String, judgeKey: String
        var records = 0
        var languages: [String: Int] = [:]
        var turnCounts: [Int] = []
        var avgScores: [Double] = []
        var perTurnScores: [Double] = []
        var conversationScores: [Double] = []
        var wordsPerConversation: [Int] = []
        var tokensPerConversation: [Int] = []
        var messageCount = 0
        var messageWords = 0
        var messageTokens = 0

        public init(columns: [String: String]) {
            messagesKey = columns["messages"] ?? "messages"
            metadataKey = columns["metadata"] ?? "metadata"
            judgeKey = columns["judge"] ?? "judge"
        }

        /// The languages seen so far, for the dataset card.
        public var languageNames: [String] { languages.keys.filter { $0 != "unknown" }.sorted() }

        public mutating func add(_ row: JSONObject) {
            records += 1
            let meta = row[metadataKey]
            languages[meta?["language"]?.stringValue ?? "unknown", default: 0] += 1
            let messages = row[messagesKey]?.arrayValue ?? []
            let judge = row[judgeKey]
            let perTurn = judge?["per_turn"]?.arrayValue
            turnCounts.append(meta?["n_turns"]?.intValue ?? perTurn?.count
                              ?? messages.filter { $0["role"]?.stringValue == "user" }.count)
            let conversationScore = judge?["conversation"]?["score"]?.doubleValue
            if let s = judge?["avg_score"]?.doubleValue ?? conversationScore { avgScores.append(s) }
            perTurnScores += (perTurn ?? []).compactMap { $0["score"]?.doubleValue }
            if let c = conversationScore { conversationScores.append(c) }
            var words = 0
            var tokens = 0
            for m in messages {
                let text = m["content"]?.stringValue ?? ""
                words += text.split(whereSeparator: { $0.isWhitespace }).count
                tokens += (text.count + 3) / 4
            }
            messageCount += messages.count
            messageWords += words
            messageTokens += tokens
            wordsPerConversation.append(words)
            tokensPerConversation.append(tokens)
        }

        public func result(sourceFile: String) -> JSON {
            var turnDistribution: [(String, JSON)] = []
            var perCount: [Int: Int] = [:]
            for n in turnCounts { perCount[n, default: 0] += 1 }
            for n in perCount.keys.sorted() { turnDistribution.append((String(n), .int(perCount[n]!))) }
            func ratio(_ total: Int, _ count: Int) -> JSON {
                count == 0 ? .null : .double((Double(total) / Double(count) * 10_000).rounded() / 10_000)
            }
            return .obj([
                "source_file": .string(sourceFile),
                "records": .int(records),
                "languages": .object(JSONObject(languages.keys.sorted().map { ($0, .int(languages[$0]!)) })),
                "turn_count": .obj([
                    "min": turnCounts.min().map { .int($0) } ?? .null,
                    "max": turnCounts.max().map { .int($0) } ?? .null,
                    "avg": mean(turnCounts.map(Double.init)),
                    "distribution": .object(JSONObject(turnDistribution)),
                ]),
                "judge": .obj([
                    "conversations_with_scores": .int(avgScores.count),
                    "avg_score_mean": mean(avgScores),
                    "avg_score_distribution": scoreBuckets(avgScores),
                    "per_turn_score_mean": mean(perTurnScores),
                    "per_turn_score_distribution": scoreBuckets(perTurnScores),
                    "conversation_score_mean": mean(conversationScores),
                    "conversation_score_distribution": scoreBuckets(conversationScores),
                ]),
                "text": .obj([
                    "avg_words_per_conversation": mean(wordsPerConversation.map(Double.init)),
                    "avg_tokens_per_conversation_estimate": mean(tokensPerConversation.map(Double.init)),
                    "avg_words_per_message": ratio(messageWords, messageCount),
                    "avg_tokens_per_message_estimate": ratio(messageTokens, messageCount),
                    "word_count_distribution": histogram(wordsPerConversation),
                    "token_estimate_distribution": histogram(tokensPerConversation),
                ]),
            ])
        }
    }

    /// The mean to 4 decimals; null when there is nothing to average.
    static func mean(_ values: [Double]) -> JSON {
        guard !values.isEmpty else { return .null }
        return .double((values.reduce(0, +) / Double(values.count) * 10_000).rounded() / 10_000)
    }

    /// Counts per score "0" to "10": each score rounded, then clamped.
    static func scoreBuckets(_ scores: [Double]) -> JSON {
        var counts = [Int](repeating: 0, count: 11)
        // Half to even, as Python's round (upstream): 6.5 goes to 6.
        for s in scores { counts[min(10, max(0, Int(s.rounded(.toNearestOrEven))))] += 1 }
        return .object(JSONObject((0...10).map { (String($0), .int(counts[$0])) }))
    }

    /// 12 bins of width ceil((max - min + 1) / 12) from the smallest value, labelled "start-end"; one
    /// bin when every value is the same.
    static func histogram(_ values: [Int]) -> JSON {
        guard let lo = values.min(), let hi = values.max() else { return .obj([:]) }
        let width = max(1, (hi - lo + 1 + 11) / 12)
        var bins: [(String, JSON)] = []
        var start = lo
        while start <= hi {
            let end = start + width - 1
            bins.append(("\(start)-\(end)", .int(values.filter { $0 >= start && $0 <= end }.count)))
            start += width
        }
        return .object(JSONObject(bins))
    }

    /// The four charts upstream draws: file name, title, (label, count) bars.
    static func plotSeries(_ stats: JSON) -> [(String, String, [(String, Int)])] {
        func bars(_ v: JSON?) -> [(String, Int)] { (v?.objectValue?.pairs ?? []).map { ($0.key, $0.value.intValue ?? 0) } }
        return [
            ("turn_count_distribution.svg", "Turns per conversation", bars(stats["turn_count"]?["distribution"])),
            ("judge_avg_score_distribution.svg", "Judge average score per conversation", bars(stats["judge"]?["avg_score_distribution"])),
            ("word_count_distribution.svg", "Words per conversation", bars(stats["text"]?["word_count_distribution"])),
            ("token_estimate_distribution.svg", "Estimated tokens per conversation", bars(stats["text"]?["token_estimate_distribution"])),
        ]
    }
}

/// Upstream's hand-drawn SVG horizontal bar chart (its geometry and colours).
enum SVGBarChart {
    static func render(title: String, bars: [(String, Int)]) -> String {
        let maxValue = bars.map(\.1).max() ?? 0
        guard !bars.isEmpty, maxValue > 0 else {
            return """
            <svg xmlns="http://www.w3.org/2000/svg" width="800" height="160" viewBox="0 0 800 160">
            <rect width="800" height="160" fill="#ffffff"/>
            <text x="24" y="48" font-family="sans-serif" font-size="22" font-weight="bold">\(escape(title))</text>
            <text x="24" y="100" font-family="sans-serif" font-size="16" fill="#555555">No data to plot.</text>
            </svg>

            """
        }
        let longest = bars.map { $0.0.count }.max() ?? 0
        let left = min(360, max(140, longest * 7 + 24))
        let top = 64, row = 28, area = 700
        let width = left + 840
        let height = top + row * bars.count + 36
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)">
        <rect width="\(width)" height="\(height)" fill="#ffffff"/>
        <text x="24" y="40" font-family="sans-serif" font-size="22" font-weight="bold">\(escape(title))</text>

        """
        for (i, (label, value)) in bars.enumerated() {
            let y = top + i * row
            let length = value == 0 ? 0 : max(1, Int((Double(value) / Double(maxValue) * Double(area)).rounded()))
            svg += """
            <text x="\(left - 10)" y="\(y + 18)" font-family="sans-serif" font-size="13" text-anchor="end">\(escape(label))</text>
            <rect x="\(left)" y="\(y + 4)" width="\(length)" height="20" rx="3" fill="#2f6fed"/>
            <text x="\(left + length + 8)" y="\(y + 18)" font-family="sans-serif" font-size="13">\(value)</text>

            """
        }
        return svg + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

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
        language:
        \((langs.isEmpty ? ["en"] : langs).map { "- \($0)" }.joined(separator: "\n"))
        task_categories:
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
        `messages_with_tools`, `metadata`, `user_reasoning`, `assistant_reasoning`\(dataFile.contains("judged") ? ", `judge`" : "")).

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
        return card
    }

    static func show(_ v: JSON?) -> String {
        guard let v, v != .null else { return "n/a" }
        if let i = v.intValue, v.doubleValue == Double(i) { return String(i) }
        return v.doubleValue.map { String($0) } ?? v.serialized()
    }
}
