import Foundation

/// `metrics.json`: what a finished dataset is like, overall and per language, from the completed
/// dialogue records an export writes (docs/metrics.md has each definition). Size, lexical diversity
/// (distinct-n, MTLD), the share of candidate questions rejected as duplicates, how much of the
/// knowledge base the answers drew on, and the judge's scores and reasons.
///
/// Records are added one at a time in file order; what is kept is what the figures need: the
/// distinct n-grams and, for MTLD's two passes, every token as a 32-bit id.
public struct DatasetMetrics {
    /// MTLD's factor threshold (McCarthy and Jarvis 2010).
    public static let mtldThreshold = 0.72

    /// The tallies of one scope: the whole dataset or one language.
    struct Scope {
        var dialogues = 0
        var turns = 0
        var messages = [0, 0]
        var words = [0, 0]
        var ngrams: [Set<SIMD4<Int32>>] = [[], [], []]
        var ngramTotals = [0, 0, 0]
        var tokens: [Int32] = []
        var candidates = 0
        /// Of the rejected: exact, near, semantic (`DedupRejections.Kind.allCases` order).
        var rejectedByKind = [0, 0, 0]
        var chunkCounts: [String: [Int: Int]] = [:]
        var turnScores: [Double] = []
        var conversationScores: [Double] = []
        var reasonCounts: [String: Int] = [:]
        var conversationReasonCounts: [String: Int] = [:]
    }

    let reasons: [String]
    var vocabulary: [String: Int32] = [:]
    var overall = Scope()
    var languages: [String: Scope] = [:]

    /// Where the runs' rejection files are (`saving.output_dir`); nil: every rejection counts as exact.
    var rejectionsDir: String?
    /// Each run's rejection kinds, read once per run (`DedupRejections.kinds`).
    var rejectionKinds: [String: [String: DedupRejections.Kind]] = [:]

    /// `reasons`: the judge's reasons (`judge.reasons`), each given a share even when never named.
    /// `rejectionsDir`: the output folder whose `run_state/<run_id>/dedup_rejections.jsonl` says
    /// what kind of duplicate each rejected question was.
    public init(reasons: [String], rejectionsDir: String? = nil) {
        self.reasons = reasons
        self.rejectionsDir = rejectionsDir
    }

    /// Adds one completed dialogue; the caller decides which records belong to the dataset.
    public mutating func add(_ record: JSONObject) {
        let turns = Record.turns(record)
        let ids = turns.map { t in ["user_message", "assistant_message"].map { tokenIDs(t[$0]?.stringValue ?? "") } }
        let kinds = rejectedKinds(record, turns: turns)
        // In place (no copy of a scope's tokens): overall, then the dialogue's language.
        Self.add(record, turns: turns, ids: ids, to: &overall)
        Self.add(record, turns: turns, ids: ids, to: &languages[Record.language(record), default: Scope()])
        for k in kinds.indices {
            overall.rejectedByKind[k] += kinds[k]
            languages[Record.language(record)]!.rejectedByKind[k] += kinds[k]
        }
    }

    /// How many of the dialogue's rejected questions were of each kind: a turn with `attempt` k had
    /// k - 1 rejected, each looked up in its run's rejections file (one it does not list, as in a
    /// dataset made before the file existed, counts as exact, the only kind there was then).
    mutating func rejectedKinds(_ record: JSONObject, turns: [JSON]) -> [Int] {
        var counts = [0, 0, 0]
        let run = record["run_id"]?.stringValue ?? ""
        if rejectionKinds[run] == nil {
            rejectionKinds[run] = rejectionsDir.map { DedupRejections.kinds(outputDir: $0, runID: run) } ?? [:]
        }
        let kinds = rejectionKinds[run] ?? [:]
        let cid = Record.id(record)
        for (position, turn) in turns.enumerated() {
            let attempts = max(1, turn["attempt"]?.intValue ?? 1)
            let index = turn["turn_index"]?.intValue ?? position + 1
            for a in stride(from: 1, to: attempts, by: 1) {
                let kind = kinds[DedupRejections.key(cid, index, a)] ?? .exact
                counts[DedupRejections.Kind.allCases.firstIndex(of: kind)!] += 1
            }
        }
        return counts
    }

    static func add(_ record: JSONObject, turns: [JSON], ids: [[[Int32]]], to s: inout Scope) {
        s.dialogues += 1
        s.turns += turns.count
        if let v = record["conversation_judge"], Judgement.isVerdict(v) {
            countVerdict(v, scores: &s.conversationScores, reasons: &s.conversationReasonCounts)
        }
        for (turn, messages) in zip(turns, ids) {
            for (role, m) in messages.enumerated() { addMessage(m, role: role, to: &s) }
            // A turn's attempt is its question's number: the ones before it were rejected as duplicates.
            let attempts = max(1, turn["attempt"]?.intValue ?? 1)
            s.candidates += attempts
            for (source, index) in retrievedChunks(turn) { s.chunkCounts[source, default: [:]][index, default: 0] += 1 }
            if let v = turn["qa_judge"], Judgement.isVerdict(v) {
                countVerdict(v, scores: &s.turnScores, reasons: &s.reasonCounts)
            }
        }
    }

    /// The figures, overall then per language (sorted). `knowledge`: every chunk of the index as
    /// (source, chunk index); nil when no index is at hand, and then the coverage shares are null.
    public func json(sourceFile: String, knowledge: [(source: String, chunkIndex: Int)]?) -> JSON {
        .obj([
            "source_file": .string(sourceFile),
            "tokens": "lowercased maximal runs of Unicode letters or digits",
            "overall": scopeJSON(overall, knowledge: knowledge),
            "languages": .object(JSONObject(languages.keys.sorted().map { ($0, scopeJSON(languages[$0]!, knowledge: knowledge)) })),
        ])
    }

    func scopeJSON(_ s: Scope, knowledge: [(source: String, chunkIndex: Int)]?) -> JSON {
        func ratio(_ a: Int, _ b: Int) -> JSON { b == 0 ? .null : .double(Double(a) / Double(b)) }
        let mtld = Self.mtld(s.tokens)
        return .obj([
            "dialogues": .int(s.dialogues),
            "turns": .int(s.turns),
            "mean_turns_per_dialogue": ratio(s.turns, s.dialogues),
            "mean_words_per_message": .obj([
                "user": ratio(s.words[0], s.messages[0]),
                "assistant": ratio(s.words[1], s.messages[1]),
                "all": ratio(s.words[0] + s.words[1], s.messages[0] + s.messages[1]),
            ]),
            "distinct_1": ratio(s.ngrams[0].count, s.ngramTotals[0]),
            "distinct_2": ratio(s.ngrams[1].count, s.ngramTotals[1]),
            "distinct_3": ratio(s.ngrams[2].count, s.ngramTotals[2]),
            "mtld": mtld.map { .double($0) } ?? .null,
            "dedup_rejected_share": .obj([
                "exact": ratio(s.rejectedByKind[0], s.candidates),
                "near": ratio(s.rejectedByKind[1], s.candidates),
                "semantic": ratio(s.rejectedByKind[2], s.candidates),
                "candidates": .int(s.candidates),
                "rejected_exact": .int(s.rejectedByKind[0]),
                "rejected_near": .int(s.rejectedByKind[1]),
                "rejected_semantic": .int(s.rejectedByKind[2]),
                "note": "over the questions generated for the turns of the completed dialogues (each turn's attempt count); each rejection's kind from run_state/<run_id>/dedup_rejections.jsonl, exact when it is not listed",
            ]),
            "kb_coverage": Self.coverageJSON(s.chunkCounts, knowledge: knowledge),
            "judge": judgeJSON(s),
        ])
    }

    func judgeJSON(_ s: Scope) -> JSON {
        func shares(_ counts: [String: Int], of total: Int) -> JSON {
            let extra = counts.keys.filter { !reasons.contains($0) }.sorted()
            return .object(JSONObject((reasons + extra).map { r in
                (r, total == 0 ? .null : .double(Double(counts[r] ?? 0) / Double(total)))
            }))
        }
        return .obj([
            "turn_verdicts": .int(s.turnScores.count),
            "turn_score_histogram": DatasetStats.scoreBuckets(s.turnScores),
            "turn_reason_shares": shares(s.reasonCounts, of: s.turnScores.count),
            "conversation_verdicts": .int(s.conversationScores.count),
            "conversation_score_histogram": DatasetStats.scoreBuckets(s.conversationScores),
            "conversation_reason_shares": shares(s.conversationReasonCounts, of: s.conversationScores.count),
        ])
    }

    /// Coverage and Gini over every chunk and document of the index (zeros included); a retrieved
    /// chunk the index does not hold (an index rebuilt since) is counted apart.
    static func coverageJSON(_ counts: [String: [Int: Int]], knowledge: [(source: String, chunkIndex: Int)]?) -> JSON {
        let retrievals = counts.values.reduce(0) { $0 + $1.values.reduce(0, +) }
        guard let knowledge else {
            return .obj(["documents": .null, "chunks": .null, "retrievals": .int(retrievals),
                         "documents_retrieved": .int(counts.count), "chunks_retrieved": .int(counts.values.reduce(0) { $0 + $1.count }),
                         "document_share": .null, "chunk_share": .null, "document_gini": .null, "chunk_gini": .null,
                         "chunks_not_in_index": .null, "note": "no knowledge index found: shares and Gini need every chunk"])
        }
        var perChunk: [Int] = []
        var perDocument: [String: Int] = [:]
        var known = Set<String>()
        for c in knowledge {
            let n = counts[c.source]?[c.chunkIndex] ?? 0
            perChunk.append(n)
            perDocument[c.source, default: 0] += n
            known.insert("\(c.chunkIndex)#\(c.source)")
        }
        var outside = 0
        for (source, chunks) in counts {
            for (index, _) in chunks where !known.contains("\(index)#\(source)") { outside += 1 }
        }
        let documents = Array(perDocument.values)
        func share(_ v: [Int]) -> JSON { v.isEmpty ? .null : .double(Double(v.filter { $0 > 0 }.count) / Double(v.count)) }
        return .obj([
            "documents": .int(documents.count), "chunks": .int(perChunk.count), "retrievals": .int(retrievals),
            "documents_retrieved": .int(documents.filter { $0 > 0 }.count),
            "chunks_retrieved": .int(perChunk.filter { $0 > 0 }.count),
            "document_share": share(documents), "chunk_share": share(perChunk),
            "document_gini": gini(documents).map { .double($0) } ?? .null,
            "chunk_gini": gini(perChunk).map { .double($0) } ?? .null,
            "chunks_not_in_index": .int(outside),
        ])
    }

    // MARK: the pure functions

    /// Lowercased maximal runs of Unicode letters or digits.
    public static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        forEachToken(text) { out.append($0) }
        return out
    }

    /// `tokens` one at a time, so a long message is never held as an array of strings.
    static func forEachToken(_ text: String, _ body: (String) -> Void) {
        var current = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if u.properties.isAlphabetic || u.properties.numericType != nil {
                current.append(u)
            } else if !current.isEmpty {
                body(String(current).lowercased())
                current = String.UnicodeScalarView()
            }
        }
        if !current.isEmpty { body(String(current).lowercased()) }
    }

    /// Distinct-n over messages: unique n-grams over all n-grams, each message's n-grams counted
    /// within it (none spans two messages). Nil when there is no n-gram.
    public static func distinct(_ n: Int, _ messages: [[String]]) -> Double? {
        var seen = Set<ArraySlice<String>>()
        var total = 0
        for m in messages where m.count >= n {
            for i in 0...(m.count - n) { seen.insert(m[i..<(i + n)]); total += 1 }
        }
        return total == 0 ? nil : Double(seen.count) / Double(total)
    }

    /// MTLD (McCarthy and Jarvis 2010): the mean of the forward and backward passes. Nil for no token,
    /// or a text whose type-token ratio never falls (no factor to divide by).
    public static func mtld<T: Hashable>(_ tokens: [T], threshold: Double = mtldThreshold) -> Double? {
        guard let forward = mtldPass(tokens, threshold: threshold),
              let backward = mtldPass(tokens.reversed(), threshold: threshold) else { return nil }
        return (forward + backward) / 2
    }

    /// One pass: a factor ends each time the running type-token ratio falls to the threshold; the
    /// partial factor at the end counts (1 - TTR) / (1 - threshold). Tokens over factors.
    static func mtldPass<S: Sequence>(_ tokens: S, threshold: Double) -> Double? where S.Element: Hashable {
        var types = Set<S.Element>()
        var count = 0
        var total = 0
        var factors = 0.0
        var ttr = 1.0
        for t in tokens {
            total += 1
            count += 1
            types.insert(t)
            ttr = Double(types.count) / Double(count)
            if ttr <= threshold {
                factors += 1
                types.removeAll(keepingCapacity: true)
                count = 0
                ttr = 1.0
            }
        }
        factors += (1 - ttr) / (1 - threshold)
        return factors > 0 ? Double(total) / factors : nil
    }

    /// The Gini coefficient of counts (0: all equal, towards 1: all in one): with the counts sorted
    /// ascending, 2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n, i from 1. Nil when the sum is 0.
    public static func gini(_ counts: [Int]) -> Double? {
        let sorted = counts.sorted()
        let sum = sorted.reduce(0, +)
        guard sum > 0 else { return nil }
        let n = Double(sorted.count)
        var weighted = 0.0
        for (i, x) in sorted.enumerated() { weighted += Double(i + 1) * Double(x) }
        return 2 * weighted / (n * Double(sum)) - (n + 1) / n
    }

    // MARK: helpers of add

    /// A message's tokens as ids, one per distinct token of the whole dataset.
    mutating func tokenIDs(_ text: String) -> [Int32] {
        var out: [Int32] = []
        Self.forEachToken(text) { t in
            if let id = vocabulary[t] { out.append(id); return }
            let id = Int32(truncatingIfNeeded: vocabulary.count)
            vocabulary[t] = id
            out.append(id)
        }
        return out
    }

    static func addMessage(_ ids: [Int32], role: Int, to s: inout Scope) {
        s.messages[role] += 1
        s.words[role] += ids.count
        s.tokens += ids
        for n in 1...3 where ids.count >= n {
            for i in 0...(ids.count - n) {
                var key = SIMD4<Int32>(repeating: -1)
                for k in 0..<n { key[k] = ids[i + k] }
                s.ngrams[n - 1].insert(key)
            }
            s.ngramTotals[n - 1] += ids.count - n + 1
        }
    }

    /// The (source, chunk index) of every passage the knowledge-base tool returned for the turn.
    static func retrievedChunks(_ turn: JSON) -> [(String, Int)] {
        var out: [(String, Int)] = []
        for e in turn["tool_events"]?.arrayValue ?? [] where e["name"]?.stringValue == "vector_db_search" {
            for r in e["result"]?["results"]?.arrayValue ?? [] {
                guard let source = r["source"]?.stringValue, let index = r["chunk_index"]?.intValue else { continue }
                out.append((source, index))
            }
        }
        return out
    }

    static func countVerdict(_ v: JSON, scores: inout [Double], reasons: inout [String: Int]) {
        guard let score = v["score"]?.doubleValue else { return }
        scores.append(score)
        for r in Set((v["reasons"]?.arrayValue ?? []).compactMap { $0.stringValue }) { reasons[r, default: 0] += 1 }
    }
}
