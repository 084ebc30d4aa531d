// metrics.json: the figures of a small fixed dataset checked by hand and against an independent
// Python implementation of the same definitions (docs/metrics.md).

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct DatasetMetricsTests {
    typealias Turn = (user: String, assistant: String, attempt: Int, chunks: [(String, Int)], score: Double, reasons: [String])

    static func record(_ id: String, _ language: String, _ turns: [Turn], conversation: (Double, [String])? = nil) -> JSONObject {
        var r: JSONObject = ["conversation_id": .string(id), "language": .string(language), "status": "completed"]
        r["turns"] = .array(turns.enumerated().map { (i, t) in
            let results: [JSON] = t.chunks.map { JSON.obj(["source": .string($0.0), "chunk_index": .int($0.1), "content": "..."]) }
            let event: JSON = .obj(["id": "prefetch-1", "name": "vector_db_search",
                                    "result": .obj(["query": "q", "results": .array(results)])])
            return .obj([
                "turn_index": .int(i + 1), "user_message": .string(t.user), "assistant_message": .string(t.assistant),
                "attempt": .int(t.attempt),
                "tool_events": .array(t.chunks.isEmpty ? [] : [event]),
                "qa_judge": .obj(["score": .double(t.score), "reasons": JSON(t.reasons)]),
            ])
        })
        if let c = conversation { r["conversation_judge"] = .obj(["score": .double(c.0), "reasons": JSON(c.1)]) }
        return r
    }

    /// A long answer from a small vocabulary (a fixed LCG), so MTLD has many factors to count.
    static var longAnswer: String {
        let words = ["Chain", "oil", "drop", "roller", "wipe", "rag", "rain", "brake", "pad", "3.5", "mm", "été"]
        var x: UInt64 = 12345
        var out: [String] = []
        for _ in 0..<240 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            out.append(words[Int((x >> 33) % UInt64(words.count))])
        }
        return out.joined(separator: " ") + "."
    }

    /// Four dialogues, two languages: attempts, retrievals and verdicts chosen for hand-checked figures.
    static var dataset: [JSONObject] {
        [
            record("d1", "en", [
                ("How do I oil a bicycle chain?", "Wipe the chain, then oil the chain one drop per roller, and wipe the chain again.",
                 2, [("bike.md", 0), ("bike.md", 1)], 8, []),
                ("And how often should the chain be oiled?", "Oil the chain every few weeks, and after any ride in the rain.",
                 1, [("bike.md", 1)], 6.5, ["incorrect"]),
            ]),
            record("d2", "en", [
                ("What goes into a compost pile?", longAnswer, 1, [("compost.md", 0)], 9, []),
            ], conversation: (7, ["unsafe"])),
            record("d3", "fr", [
                ("Comment huiler une chaîne de vélo ?", "Essuyez la chaîne, puis huilez la chaîne, une goutte par rouleau.",
                 3, [("bike.md", 0)], 4, ["incorrect", "unsafe"]),
                ("Et à quelle fréquence faut-il huiler la chaîne ?", "Huilez la chaîne toutes les deux semaines, et après la pluie.",
                 1, [], 7, ["off_topic", "madeup"]),
            ]),
            record("d4", "fr", [
                ("Que mettre dans le compost ?", "Des déchets verts et des déchets bruns, deux à trois parts de bruns pour une part de verts.",
                 1, [("compost.md", 0), ("compost.md", 0)], 10, []),
            ]),
        ]
    }

    static let knowledge: [(source: String, chunkIndex: Int)] = [
        ("bike.md", 0), ("bike.md", 1), ("bike.md", 2), ("compost.md", 0), ("compost.md", 1), ("garden.md", 0),
    ]

    static func figures() -> JSON {
        var m = DatasetMetrics(reasons: ["incorrect", "unsafe", "off_topic"])
        for r in dataset { m.add(r) }
        return m.json(sourceFile: "conversations_sharegpt.jsonl", knowledge: knowledge)
    }

    @Test func tinyCasesByHand() throws {
        #expect(DatasetMetrics.tokens("Hello, World! 3.14 été_x") == ["hello", "world", "3", "14", "été", "x"])
        #expect(DatasetMetrics.distinct(1, [["a", "b", "a"]]) == 2.0 / 3.0)
        #expect(DatasetMetrics.distinct(2, [["a", "b"], ["a", "b"]]) == 0.5)
        #expect(DatasetMetrics.distinct(2, [["a"], ["b"]]) == nil, "no bigram spans two messages")
        // "a a a a": a factor every second token, none left over: 4 / 2, both ways.
        #expect(DatasetMetrics.mtld(["a", "a", "a", "a"]) == 2)
        // "a b a b": TTR 2/3 at the third token ends a factor; the fourth leaves TTR 1 (partial 0).
        #expect(DatasetMetrics.mtld(["a", "b", "a", "b"]) == 4)
        // "a b c a": TTR 0.75 at the end, no full factor: 4 / ((1 - 0.75) / 0.28) = 4.48.
        #expect(abs(DatasetMetrics.mtld(["a", "b", "c", "a"])! - 4.48) < 1e-12)
        #expect(DatasetMetrics.mtld(["a", "b"]) == nil && DatasetMetrics.mtld([String]()) == nil)
        #expect(DatasetMetrics.gini([0, 0, 0, 4]) == 0.75)
        #expect(abs(DatasetMetrics.gini([1, 1, 1])!) < 1e-12)
        #expect(DatasetMetrics.gini([0, 0]) == nil)
    }

    /// The duplicate shares split by kind from the run's rejections file; an attempt it does not
    /// list counts as exact (issue 24).
    @Test func duplicateSharesComeFromTheRejectionsFile() throws {
        let out = NSTemporaryDirectory() + "dlg-metrics-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let log = DedupRejectionLog(outputDir: out)
        func line(_ turn: Int, _ attempt: Int, _ kind: DedupRejections.Kind) -> (runID: String, line: JSON) {
            ("m", DedupRejections.line(runID: "m", conversationID: "m-en-0", turnIndex: turn, attempt: attempt, language: "en",
                                       kind: kind, question: "q", matchedHash: "h", matchedQuestion: nil, similarity: 0.9))
        }
        // Written twice, as a resumed run may: counted once.
        try log.append([line(1, 1, .near), line(1, 2, .semantic), line(1, 1, .near)])
        var r = Self.record("m-en-0", "en", [("q1", "a1", 3, [], 8, []), ("q2", "a2", 2, [], 8, [])])
        r["run_id"] = "m"
        var metrics = DatasetMetrics(reasons: [], rejectionsDir: out)
        metrics.add(r)
        let dedup = try #require(metrics.json(sourceFile: "x", knowledge: nil)["overall"]?["dedup_rejected_share"])
        #expect(dedup["candidates"] == 5 && dedup["rejected_exact"] == 1 && dedup["rejected_near"] == 1 && dedup["rejected_semantic"] == 1,
                "\(dedup.serialized())")
        #expect(dedup["near"] == .double(0.2) && dedup["semantic"] == .double(0.2) && dedup["exact"] == .double(0.2))
        // Without the file (a dataset from before it existed), every rejection is exact.
        var old = DatasetMetrics(reasons: [])
        old.add(r)
        #expect(old.json(sourceFile: "x", knowledge: nil)["overall"]?["dedup_rejected_share"]?["rejected_exact"] == 3)
    }

    @Test func countsCoverageDedupAndJudgeByHand() throws {
        let f = Self.figures()
        let all = try #require(f["overall"])
        #expect(f["languages"]?.objectValue?.pairs.map(\.key) == ["en", "fr"])
        #expect(all["dialogues"] == 4 && all["turns"] == 6 && all["mean_turns_per_dialogue"] == .double(1.5))
        #expect(f["languages"]?["en"]?["turns"] == 3 && f["languages"]?["fr"]?["dialogues"] == 2)

        let dedup = try #require(all["dedup_rejected_share"])
        #expect(dedup["candidates"] == 9 && dedup["rejected_exact"] == 3, "\(dedup.serialized())")
        #expect(dedup["exact"]?.doubleValue == 3.0 / 9.0 && dedup["near"] == .double(0) && dedup["semantic"] == .double(0))
        #expect(f["languages"]?["en"]?["dedup_rejected_share"]?["exact"] == .double(0.25))
        #expect(f["languages"]?["fr"]?["dedup_rejected_share"]?["exact"] == .double(0.4))

        // Chunks [bike 0: 2, bike 1: 2, bike 2: 0, compost 0: 3, compost 1: 0, garden 0: 0]; documents [4, 3, 0].
        let kb = try #require(all["kb_coverage"])
        #expect(kb["documents"] == 3 && kb["chunks"] == 6 && kb["retrievals"] == 7 && kb["chunks_not_in_index"] == 0)
        #expect(kb["chunk_share"] == .double(0.5) && kb["document_share"]?.doubleValue == 2.0 / 3.0)
        #expect(abs(kb["chunk_gini"]!.doubleValue! - (72.0 / 42.0 - 7.0 / 6.0)) < 1e-12, "\(kb.serialized())")
        #expect(abs(kb["document_gini"]!.doubleValue! - (36.0 / 21.0 - 4.0 / 3.0)) < 1e-12, "\(kb.serialized())")
        #expect(f["languages"]?["fr"]?["kb_coverage"]?["chunks_retrieved"] == 2)

        let judge = try #require(all["judge"])
        #expect(judge["turn_verdicts"] == 6 && judge["conversation_verdicts"] == 1)
        let histogram = try #require(judge["turn_score_histogram"])
        #expect(histogram["6"] == 1 && histogram["8"] == 1 && histogram["10"] == 1 && histogram["5"] == 0, "6.5 rounds to even")
        #expect(judge["conversation_score_histogram"]?["7"] == 1)
        let shares = try #require(judge["turn_reason_shares"]?.objectValue)
        #expect(shares.pairs.map(\.key) == ["incorrect", "unsafe", "off_topic", "madeup"], "configured first, then the others sorted")
        #expect(shares["incorrect"]?.doubleValue == 2.0 / 6.0 && shares["madeup"]?.doubleValue == 1.0 / 6.0)
        #expect(judge["conversation_reason_shares"]?["unsafe"] == .double(1) && judge["conversation_reason_shares"]?["incorrect"] == .double(0))

        var bare = DatasetMetrics(reasons: [])
        for r in Self.dataset { bare.add(r) }
        let noIndex = bare.json(sourceFile: "x", knowledge: nil)["overall"]?["kb_coverage"]
        #expect(noIndex?["chunk_share"] == .null && noIndex?["chunks_retrieved"] == 3, "\(noIndex?.serialized() ?? "")")
    }

    /// distinct-n, MTLD and words per message as an independent Python implementation computes them.
    static let python = """
    import json, sys
    def tokens(text):
        out, cur = [], ''
        for ch in text:
            if ch.isalpha() or ch.isnumeric():
                cur += ch
            elif cur:
                out.append(cur.lower()); cur = ''
        if cur: out.append(cur.lower())
        return out
    def distinct(n, msgs):
        grams = [tuple(m[i:i + n]) for m in msgs for i in range(len(m) - n + 1)]
        return len(set(grams)) / len(grams)
    def mtld_pass(toks, th=0.72):
        factors, start, ttr = 0.0, 0, 1.0
        for i in range(len(toks)):
            seg = toks[start:i + 1]
            ttr = len(set(seg)) / len(seg)
            if ttr <= th:
                factors += 1; start = i + 1; ttr = 1.0
        return len(toks) / (factors + (1 - ttr) / (1 - th))
    scopes = {}
    for line in open(sys.argv[1]):
        r = json.loads(line)
        for name in ('overall', r['language']):
            s = scopes.setdefault(name, {'user': [], 'assistant': []})
            for t in r['turns']:
                s['user'].append(tokens(t['user_message'])); s['assistant'].append(tokens(t['assistant_message']))
                s.setdefault('order', []).extend([s['user'][-1], s['assistant'][-1]])
    out = {}
    for name, s in scopes.items():
        msgs, flat = s['order'], [w for m in s['order'] for w in m]
        out[name] = {'distinct_1': distinct(1, msgs), 'distinct_2': distinct(2, msgs), 'distinct_3': distinct(3, msgs),
                     'mtld': (mtld_pass(flat) + mtld_pass(flat[::-1])) / 2,
                     'user': sum(map(len, s['user'])) / len(s['user']),
                     'assistant': sum(map(len, s['assistant'])) / len(s['assistant']),
                     'all': len(flat) / len(msgs)}
    print(json.dumps(out))
    """

    @Test func matchesAnIndependentImplementation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("records.jsonl").path
        try Self.dataset.map { JSON.object($0).serialized() + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
        let run = try Subprocess.capture(["/usr/bin/python3", "-c", Self.python, path], timeout: .seconds(60))
        let stderr = String(decoding: run.errors, as: UTF8.self)
        try #require(run.status == 0, "python3: \(stderr)")
        let expected = try JSONCodec.parse(String(decoding: run.output, as: UTF8.self))
        let f = Self.figures()
        for scope in ["overall", "en", "fr"] {
            let ours = try #require(scope == "overall" ? f["overall"] : f["languages"]?[scope])
            let theirs = try #require(expected[scope])
            func close(_ a: JSON?, _ b: JSON?, _ what: String) {
                guard let x = a?.doubleValue, let y = b?.doubleValue else {
                    Issue.record("\(scope) \(what): \(a?.serialized() ?? "nil") vs \(b?.serialized() ?? "nil")"); return
                }
                #expect(abs(x - y) < 1e-9, "\(scope) \(what): ours \(x), python \(y)")
            }
            for k in ["distinct_1", "distinct_2", "distinct_3", "mtld"] { close(ours[k], theirs[k], k) }
            for k in ["user", "assistant", "all"] { close(ours["mean_words_per_message"]?[k], theirs[k], "words \(k)") }
        }
        // The long answer makes MTLD count whole factors, not only a partial one.
        #expect((f["languages"]?["en"]?["mtld"]?.doubleValue ?? 0) > 5)
    }
}
