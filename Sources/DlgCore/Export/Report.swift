import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `report.html`: one self-contained page to look at a run (no network: inline CSS and JS, a
/// Content-Security-Policy that forbids fetching anything). The dialogues are embedded as JSON in
/// `<script type="application/json">` blocks and drawn by the page's own small script
/// (`ReportAssets`), which renders only the rows on screen, so the page stays responsive with
/// 10,000 dialogues.
///
/// The page is written as the records come, through a temporary file renamed at the end: one
/// dialogue's compact entry at a time, never the whole run in memory. Passage texts (the same
/// knowledge chunks come back in many tool calls) and persona texts are written once, in tables
/// after the dialogues, and referred to by index; the run's figures (counts, charts) come last.
public final class ReportBuilder {
    /// What was written.
    public struct Summary: Sendable {
        public var path: String
        public var dialogues = 0
        public var completed = 0
        public var dropped = 0
        public var bytes = 0
        public var filtered: QualityFilters.Tally?
    }

    /// Tokens and requests of one agent, from `logs/llm.log`.
    public struct AgentUsage: Sendable, Equatable {
        public var agent: String
        public var requests = 0
        public var failed = 0
        public var promptTokens = 0
        public var completionTokens = 0
        public init(agent: String) { self.agent = agent }
    }

    /// What is known of the run beyond its records.
    public struct RunInfo: Sendable {
        public var runID: String?
        public var source: String
        public var wallSeconds: Double?
        /// Where the wall time comes from, said next to it on the page.
        public var wallSource: String = ""
        public var agents: [AgentUsage] = []
        /// A run made in batch mode: what it cost, beside the direct price (`BatchRunCost`).
        public var batchCost: BatchRunCost?
        /// The run's `metrics.json` and its path as the page names it (the "Dataset quality" section).
        public var metrics: JSON?
        public var metricsSource = ""
        public init(runID: String?, source: String) {
            self.runID = runID
            self.source = source
        }
    }

    let settings: Settings
    let file: AtomicFile
    private var summary: Summary
    private var written = 0
    private var seen = Set<String>()
    private var passageIndex: [String: Int] = [:]
    private var passages: [JSON] = []
    private var personaIndex: [String: Int] = [:]
    private var personas: [JSON] = []
    private var stats = Stats()

    /// Conversation ids added so far (to pick the run's lines out of the logs).
    public var ids: Set<String> { seen }

    struct Stats {
        var completedByLanguage: [String: Int] = [:]
        var droppedByLanguage: [String: Int] = [:]
        var activeByLanguage: [String: Int] = [:]
        var turns = 0
        var turnCounts: [Int: Int] = [:]
        var dropReasons: [String: Int] = [:]
        var judgeReasons: [String: Int] = [:]
        var scores: [Double] = []
        var usage = TokenUsage()
        var firstCreated: String?
        var lastCompleted: String?
        var documentRetrievals: [String: Int] = [:]
        /// The records' `run_id`s: whose rejections files the quality section reads.
        var runIDs = Set<String>()
    }

    /// Starts the page at `path` (under a temporary name until `finish`).
    public init(settings: Settings, path: String) throws(DlgError) {
        self.settings = settings
        file = try AtomicFile(path, bufferSize: 1 << 20)
        summary = Summary(path: path)
        if settings.filters.isActive { summary.filtered = QualityFilters.Tally() }
        try emit(ReportAssets.head)
        try emit("<script type=\"application/json\" id=\"dlg-dialogues\">[\n")
    }

    private func emit(_ text: String) throws(DlgError) { try emit(Array(text.utf8)) }

    private func emit(_ raw: [UInt8]) throws(DlgError) {
        // Each piece whole (a dialogue's entry, a figure): a known secret never reaches the page.
        let bytes = Redact.values(raw)
        try file.write(bytes)
        written += bytes.count
    }

    /// JSON for inside a `<script>` element: every `<` written as `\u003c`, so no text in the data
    /// (`</script>`, `<!--`) can end or change the element. JSON has `<` only inside strings.
    static func scriptSafe(_ value: JSON) -> [UInt8] {
        var bytes: [UInt8] = []
        value.write(into: &bytes)
        guard bytes.contains(0x3C) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        for b in bytes {
            if b == 0x3C { out.append(contentsOf: Array("\\u003c".utf8)) } else { out.append(b) }
        }
        return out
    }

    /// Adds one dialogue (any status); an id already added is skipped.
    public func add(_ r: JSONObject) throws(DlgError) {
        let id = Record.id(r)
        guard !id.isEmpty, seen.insert(id).inserted else { return }
        var entry = self.entry(r)
        account(r, entry: &entry)
        var bytes = summary.dialogues == 0 ? [] : Array(",\n".utf8)
        bytes.append(contentsOf: Self.scriptSafe(.object(entry)))
        try emit(bytes)
        summary.dialogues += 1
    }

    private func account(_ r: JSONObject, entry: inout JSONObject) {
        let lang = Record.language(r)
        let turns = Record.turns(r)
        switch Record.status(r) {
        case .completed:
            summary.completed += 1
            stats.completedByLanguage[lang, default: 0] += 1
            stats.turns += turns.count
            stats.turnCounts[turns.count, default: 0] += 1
            if let s = QualityFilters.score(r) { stats.scores.append(s) }
            for t in turns { for (source, _) in DatasetMetrics.retrievedChunks(t) { stats.documentRetrievals[source, default: 0] += 1 } }
            if settings.filters.isActive {
                let failed = settings.filters.failing(r)
                summary.filtered?.count(failed)
                entry["filter"] = failed.map { .string($0.rawValue) } ?? .null
            }
            if let c = r["completed_at"]?.stringValue, c > (stats.lastCompleted ?? "") { stats.lastCompleted = c }
        case .dropped:
            summary.dropped += 1
            stats.droppedByLanguage[lang, default: 0] += 1
            stats.dropReasons[r["drop_reason"]?.stringValue ?? "unknown", default: 0] += 1
        default:
            stats.activeByLanguage[lang, default: 0] += 1
        }
        for v in turns.map({ $0["qa_judge"] }) + [r["conversation_judge"]] where Judgement.isVerdict(v) {
            for reason in v?["reasons"]?.arrayValue ?? [] { stats.judgeReasons[reason.stringValue ?? "?", default: 0] += 1 }
        }
        stats.usage += TokenUsage(json: r["usage"])
        if let run = r["run_id"]?.stringValue, !run.isEmpty { stats.runIDs.insert(run) }
        if let c = r["created_at"]?.stringValue, c < (stats.firstCreated ?? "~") { stats.firstCreated = c }
    }

    static func rounded(_ d: Double) -> JSON { .double((d * 100).rounded() / 100) }

    private func personaRef(_ p: JSON?, _ who: String) -> JSON {
        let id = p?["\(who)_id"]?.stringValue ?? ""
        let text = p?[who]?.stringValue ?? ""
        if id.isEmpty && text.isEmpty { return .null }
        let key = id + "\u{0}" + text
        if let i = personaIndex[key] { return .int(i) }
        personaIndex[key] = personas.count
        personas.append(.obj(["id": .string(id), "text": .string(text)]))
        return .int(personas.count - 1)
    }

    private func passageRef(_ p: JSON) -> JSON {
        let source = p["source"]?.stringValue ?? ""
        let chunk = p["chunk_index"] ?? .null
        let content = p["content"]?.stringValue ?? ""
        let key = source + "\u{0}" + chunk.serialized() + "\u{0}" + content
        if let i = passageIndex[key] { return .int(i) }
        passageIndex[key] = passages.count
        passages.append(.obj(["source": .string(source), "chunk": chunk, "text": .string(content)]))
        return .int(passages.count - 1)
    }

    static func verdict(_ v: JSON?) -> JSON {
        guard Judgement.isVerdict(v), let o = v?.objectValue else { return .null }
        return .obj(["score": o["score"] ?? .null, "reasons": o["reasons"] ?? [], "notes": o["notes"] ?? "",
                     "question_ok": o["question_ok"] ?? .null, "answer_ok": o["answer_ok"] ?? .null])
    }

    /// The page's compact view of one dialogue.
    func entry(_ r: JSONObject) -> JSONObject {
        let turns = Record.turns(r)
        var e = JSONObject()
        e["id"] = .string(Record.id(r))
        e["lang"] = .string(Record.language(r))
        e["status"] = .string(Record.status(r).rawValue)
        e["drop"] = r["drop_reason"] ?? .null
        e["drop_detail"] = r["drop_detail"] ?? .null
        e["target"] = .int(Record.targetTurns(r))
        e["n"] = .int(turns.count)
        e["user"] = personaRef(r["personas"], "user")
        e["assistant"] = personaRef(r["personas"], "assistant")
        e["topic"] = r["seed"]?["topic"] ?? ""
        e["seed_question"] = r["seed"]?["question"] ?? ""
        e["score"] = QualityFilters.score(r).map(Self.rounded) ?? .null
        e["reasons"] = JSON(QualityFilters.reasons(r))
        e["conversation"] = Self.verdict(r["conversation_judge"])
        let u = TokenUsage(json: r["usage"])
        e["tokens"] = .int(u.promptTokens + u.completionTokens)
        e["requests"] = .int(u.requests)
        e["turns"] = .array(turns.map(turnEntry))
        return e
    }

    func turnEntry(_ t: JSON) -> JSON {
        let qa = t["qa_generation"] ?? .obj([:])
        let trace = ReasoningTrace.normalize(t["kb_answer"]?["reasoning_trace"]?.objectValue ?? JSONObject(),
                                                   question: t["user_message"]?.stringValue ?? "")
        let tools: [JSON] = (t["tool_events"]?.arrayValue ?? []).map { ev in
            let result = ev["result"]
            var o: JSONObject = ["name": ev["name"] ?? "", "query": ev["arguments"]?["query"] ?? ""]
            if let results = result?["results"]?.arrayValue {
                o["passages"] = .array(results.map(passageRef))
            } else if let text = result?["error"]?.stringValue ?? result?.stringValue {
                o["error"] = .string(text)
            }
            return .object(o)
        }
        return .obj([
            "i": t["turn_index"] ?? 0, "q": t["user_message"] ?? "", "a": t["assistant_message"] ?? "",
            "mode": t["question_mode"] ?? "", "intent": qa["intent"] ?? "", "difficulty": qa["difficulty"] ?? "",
            "topic": t["seed_topic"] ?? "", "source": t["source_path"] ?? "", "attempt": t["attempt"] ?? 1,
            "confidence": trace["confidence"] ?? "",
            "evidence": trace["evidence"] ?? [], "premises": trace["premises"] ?? [],
            "tools": .array(tools), "judge": Self.verdict(t["qa_judge"]),
        ])
    }

    /// The run's figures, the tables and the script; puts the page in place.
    public func finish(_ info: RunInfo) throws(DlgError) -> Summary {
        try emit("\n]</script>\n<script type=\"application/json\" id=\"dlg-passages\">")
        try emit(Self.scriptSafe(.array(passages)))
        try emit("</script>\n<script type=\"application/json\" id=\"dlg-personas\">")
        try emit(Self.scriptSafe(.array(personas)))
        try emit("</script>\n<script type=\"application/json\" id=\"dlg-summary\">")
        try emit(Self.scriptSafe(figures(info)))
        try emit("</script>\n<script>\n" + ReportAssets.script + "\n</script>\n</body>\n</html>\n")
        try file.commit(durable: false)
        summary.bytes = written
        return summary
    }

    static func counts(_ d: [String: Int]) -> JSON {
        .object(JSONObject(d.keys.sorted().map { ($0, .int(d[$0]!)) }))
    }

    /// Bars by descending count, then name.
    static func bars(_ d: [String: Int]) -> [(String, Int)] {
        d.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func figures(_ info: RunInfo) -> JSON {
        let s = stats
        var languages: [String] = settings.run.targetLanguages
        for l in Set(s.completedByLanguage.keys).union(s.droppedByLanguage.keys).union(s.activeByLanguage.keys).sorted()
            where !languages.contains(l) { languages.append(l) }
        languages = languages.filter {
            (s.completedByLanguage[$0] ?? 0) + (s.droppedByLanguage[$0] ?? 0) + (s.activeByLanguage[$0] ?? 0) > 0
        }
        let perLanguage = JSON.array(languages.map { l in
            .obj(["language": .string(l), "completed": .int(s.completedByLanguage[l] ?? 0),
                  "dropped": .int(s.droppedByLanguage[l] ?? 0), "active": .int(s.activeByLanguage[l] ?? 0)])
        })
        let buckets = DatasetStats.scoreBuckets(s.scores)
        let scoreBars = (buckets.objectValue?.pairs ?? []).map { ($0.key, $0.value.intValue ?? 0) }
        let turnBars = s.turnCounts.keys.sorted().map { (String($0), s.turnCounts[$0]!) }
        var charts: [JSON] = []
        func chart(_ key: String, _ title: String, _ bars: [(String, Int)]) {
            charts.append(.obj(["key": .string(key), "title": .string(title),
                                "svg": .string(SVGBarChart.render(title: title, bars: bars, barArea: 160))]))
        }
        chart("score", "Judge score per dialogue", scoreBars)
        chart("reasons", "Judge reasons (verdicts naming each)", Self.bars(s.judgeReasons))
        chart("turns", "Turns per completed dialogue", turnBars)
        chart("dropped", "Dropped dialogues per reason", Self.bars(s.dropReasons))
        let mean: JSON = s.scores.isEmpty ? .null : Self.rounded(s.scores.reduce(0, +) / Double(s.scores.count))
        var filters: JSON = .null
        if let tally = summary.filtered {
            filters = .obj(["settings": settings.filters.json, "kept": tally.json["kept"] ?? 0,
                            "removed": tally.json["removed"] ?? .obj([:]), "file": .string(QualityFilters.fileName)])
        }
        return .obj([
            "title": .string(info.runID.map { "run \($0)" } ?? "dialogues"),
            "run_id": info.runID.map { .string($0) } ?? .null,
            "source": .string(info.source),
            "generated_at": .string(Timestamps.isoZ()),
            "dialogues": .int(summary.dialogues), "completed": .int(summary.completed),
            "dropped": .int(summary.dropped), "active": .int(summary.dialogues - summary.completed - summary.dropped),
            "turns": .int(s.turns), "languages": perLanguage,
            "drop_reasons": Self.counts(s.dropReasons), "judge_reasons": Self.counts(s.judgeReasons),
            "judged": .int(s.scores.count), "mean_score": mean, "score_distribution": buckets,
            "tokens": s.usage.json,
            "agents": .array(info.agents.map { a in
                .obj(["agent": .string(a.agent), "requests": .int(a.requests), "failed": .int(a.failed),
                      "prompt_tokens": .int(a.promptTokens), "completion_tokens": .int(a.completionTokens)])
            }),
            "wall_seconds": info.wallSeconds.map(Self.rounded) ?? .null,
            "wall_source": .string(info.wallSource),
            "first_created": s.firstCreated.map { .string($0) } ?? .null,
            "last_completed": s.lastCompleted.map { .string($0) } ?? .null,
            "judge_reason_names": JSON(settings.judge.reasons),
            "filters": filters,
            "charts": .array(charts),
            "extra_tiles": .array(info.batchCost.map { [$0.reportTile] } ?? []),
            "quality": .string(quality(info).html()),
        ])
    }

    func quality(_ info: RunInfo) -> ReportQuality {
        var q = ReportQuality(metrics: info.metrics, metricsSource: info.metricsSource, completed: summary.completed,
                              documentRetrievals: stats.documentRetrievals)
        (q.pairs, q.pairsTotal) = ReportQuality.readPairs(outputDir: settings.outputDir, runIDs: stats.runIDs.sorted())
        return q
    }
}
