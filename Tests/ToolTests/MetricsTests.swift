// metrics.json: every run ends with it beside the dataset files, and dlg-export writes it again.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("metrics.json") struct MetricsTests {
    static let scopeKeys = ["dialogues", "turns", "mean_turns_per_dialogue", "mean_words_per_message",
                            "distinct_1", "distinct_2", "distinct_3", "mtld", "dedup_rejected_share", "kb_coverage", "judge", "topic_diversity"]

    /// The keys of one scope, and figures in their ranges.
    static func checkScope(_ s: JSON?, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let s = try #require(s, "no \(name) scope", sourceLocation: sourceLocation)
        #expect(s.objectValue?.pairs.map(\.key) == scopeKeys, "\(name): \(s.objectValue?.pairs.map(\.key) ?? [])", sourceLocation: sourceLocation)
        #expect((s["dialogues"]?.intValue ?? 0) > 0, sourceLocation: sourceLocation)
        for k in ["user", "assistant", "all"] {
            #expect((s["mean_words_per_message"]?[k]?.doubleValue ?? 0) > 0, "\(name) words \(k)", sourceLocation: sourceLocation)
        }
        for k in ["distinct_1", "distinct_2", "distinct_3"] {
            #expect((0...1).contains(s[k]?.doubleValue ?? -1), "\(name) \(k)", sourceLocation: sourceLocation)
        }
        #expect((s["mtld"]?.doubleValue ?? 0) > 0, "\(name) mtld", sourceLocation: sourceLocation)
        let dedup = s["dedup_rejected_share"]
        #expect(dedup?["exact"]?.doubleValue != nil && dedup?["near"] == .double(0) && dedup?["semantic"] == .double(0),
                "\(name) dedup \(dedup?.serialized() ?? "nil")", sourceLocation: sourceLocation)
        let kb = s["kb_coverage"]
        for k in ["document_share", "chunk_share", "document_gini", "chunk_gini"] {
            #expect((0...1).contains(kb?[k]?.doubleValue ?? -1), "\(name) \(k): \(kb?.serialized() ?? "nil")", sourceLocation: sourceLocation)
        }
        let judge = s["judge"]
        #expect((judge?["turn_verdicts"]?.intValue ?? 0) > 0, "\(name) judge \(judge?.serialized() ?? "nil")", sourceLocation: sourceLocation)
        #expect(judge?["turn_score_histogram"]?.objectValue?.count == 11 && judge?["turn_reason_shares"]?.objectValue != nil,
                sourceLocation: sourceLocation)
    }

    @Test func aRunEndsWithMetricsAndDlgExportRewritesThem() async throws {
        let work = try WorkDir(label: "metrics")
        try work.setConfig("run.target_languages", "[en, fr]")
        try work.setConfig("run.total_samples", "4")
        try work.setConfig("run.batch_size", "2")
        try await withMock(["--seed", "24", "--duplicate-rate", "0.3"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "metrics")
            try #require(r.status == 0, "\(r)")
            try #require(work.exists("outputs/metrics.json"), "no outputs/metrics.json\n\(r)")
            let text = try work.read("outputs/metrics.json")
            let m = try JSONCodec.parse(text)
            #expect(m.objectValue?.pairs.map(\.key) == ["source_file", "tokens", "overall", "languages"])
            try Self.checkScope(m["overall"], "overall")
            #expect(m["languages"]?.objectValue?.pairs.map(\.key) == ["en", "fr"], "\(text)")
            for lang in ["en", "fr"] { try Self.checkScope(m["languages"]?[lang], lang) }
            let sharegpt = try work.records("outputs/conversations_sharegpt.jsonl")
            #expect(m["overall"]?["dialogues"]?.intValue == sharegpt.count)
            // With no dialogue dropped, every rejection dlg-dedup logged belongs to a kept turn.
            if summary?["dropped"] == .obj([:]) {
                let logged = try work.read("logs/run.log").components(separatedBy: "duplicate question").count - 1
                #expect(m["overall"]?["dedup_rejected_share"]?["rejected_exact"]?.intValue == logged, "\(text)")
            }

            // The same run exported again from its journal: the same figures, written again.
            try work.remove("outputs/metrics.json")
            let again = try await stage("dlg-export", work, nil, ["--run-id", "metrics"])
            try #require(again.status == 0, "\(again)")
            #expect(try work.read("outputs/metrics.json") == text, "dlg-export --run-id wrote other figures")

            // From record files: the same dialogues, so the same counts.
            try work.remove("outputs/metrics.json")
            let files = try await stage("dlg-export", work, nil, [work.file("outputs/run_state/metrics/finished.jsonl").path])
            try #require(files.status == 0, "\(files)")
            let fromFiles = try JSONCodec.parse(try work.read("outputs/metrics.json"))
            for k in ["dialogues", "turns", "distinct_1", "distinct_2", "distinct_3", "kb_coverage", "dedup_rejected_share"] {
                #expect(fromFiles["overall"]?[k] == m["overall"]?[k], "\(k) differs after dlg-export of the records")
            }
        }
    }

    /// `dlg-export metrics --embeddings-url`: topic diversity for a finished run from an embeddings
    /// server that is not the run's endpoint (the real all-MiniLM-L6-v2, scripts/embed_server.py),
    /// over the run's questions; a URL that is not http(s) is a usage error (64) naming the option,
    /// and nothing is written.
    @Test func topicDiversityFromAnotherEmbeddingsServer() async throws {
        let url = try EmbedTestServer.require()
        let work = try WorkDir(label: "metrics-embed")
        try work.setConfig("run.total_samples", "3")
        try await withMock(["--seed", "31"]) { mock in
            let (r, _) = try await runDlgRun(work, mock, runID: "td")
            try #require(r.status == 0, "\(r)")
        }
        let beforeText = try work.read("outputs/metrics.json")
        let before = try JSONCodec.parse(beforeText)
        #expect(before["overall"]?["topic_diversity"]?["value"] == .null, "no embedding model configured: \(before.serialized())")
        let bad = try await ExportSubcommandTests.export(work, ["metrics", "--run-id", "td", "--embeddings-url", "ftp://example.invalid/v1",
                                                                "--embedding-model", EmbedTestServer.model])
        #expect(bad.status == DlgError.Code.usage.rawValue && bad.stderr.contains("--embeddings-url"), "\(bad)")
        #expect(try work.read("outputs/metrics.json") == beforeText, "a refused call rewrote metrics.json")
        let ok = try await ExportSubcommandTests.export(work, ["metrics", "--run-id", "td", "--embeddings-url", url,
                                                               "--embedding-model", EmbedTestServer.model])
        try #require(ok.status == 0, "\(ok)")
        let m = try JSONCodec.parse(try work.read("outputs/metrics.json"))
        let topic = m["overall"]?["topic_diversity"]
        let turns = m["overall"]?["turns"]?.intValue ?? 0
        #expect(topic?["model"] == .string(EmbedTestServer.model), "\(m.serialized())")
        #expect(topic?["questions"]?.intValue == turns && turns > 0, "\(m.serialized())")
        #expect((0.01...2).contains(topic?["value"]?.doubleValue ?? -1), "\(m.serialized())")
        for k in ["dialogues", "turns", "mtld", "distinct_1", "kb_coverage"] {
            #expect(m["overall"]?[k] == before["overall"]?[k], "\(k) changed with the embeddings")
        }
    }
}
