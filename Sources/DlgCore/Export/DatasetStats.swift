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
