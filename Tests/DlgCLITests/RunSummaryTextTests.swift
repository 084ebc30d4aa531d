// The end of a run as a person reads it (dlg-run on a terminal): the batch cost beside the direct one,
// and the duplicate shares, when the JSON summary has them.

import DlgCLI
import DlgCore
import Foundation
import Testing

@Suite struct RunSummaryTextTests {
    /// Settings of a priced English run in a temporary folder.
    static func settings(batch: Bool) throws -> (Settings, String) {
        let dir = NSTemporaryDirectory() + "dlg-summary-text-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let yaml = """
        run: {target_languages: [en], total_samples: 2}
        llm: {base_url: "http://127.0.0.1:9/v1", model: m, price: {prompt_per_million: 1.0, completion_per_million: 2.0}, batch_api: {enabled: \(batch)}}
        """
        try yaml.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        return (try Settings.load(path: dir + "/config.yaml", environment: [:]), dir)
    }

    static func totals() -> RunTotals {
        var t = RunTotals()
        t.completed = ["en": 2]
        t.turns = 4
        var u = TokenUsage()
        u.promptTokens = 4000
        u.completionTokens = 1000
        u.requests = 8
        t.usage = u
        t.usageByAgent = ["qa_generator": u]
        return t
    }

    @Test func batchRunShowsTheBatchCostBesideTheDirectOneAndTheDuplicateShares() throws {
        let (settings, dir) = try Self.settings(batch: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let summary = JSON.obj([
            "run_id": "r1", "dialogues": 2, "turns": 4, "wall_seconds": 12.0,
            "cost": .obj(["currency": "USD", "batch": 0.003, "direct": 0.006, "batch_discount": 0.5]),
            "duplicates": .obj(["candidates": 40, "exact": 0.125, "near": 0.05, "semantic": 0.0]),
        ])
        let text = RunSummaryText.render(summary: summary, totals: Self.totals(), settings: settings)
        let cost = try #require(text.split(separator: "\n").first { $0.hasPrefix("  cost") }, "\(text)")
        #expect(cost.contains("$0.0030 in batch mode") && cost.contains("$0.0060") && cost.contains("0.5"), "\(cost)")
        let dedup = try #require(text.split(separator: "\n").first { $0.hasPrefix("  dedup") }, "\(text)")
        #expect(dedup.contains("exact 12.5%") && dedup.contains("near 5.0%") && dedup.contains("semantic 0.0%")
                && dedup.contains("of 40 candidate"), "\(dedup)")
    }

    @Test func directRunShowsItsCostAloneAndNoSharesWithoutMetrics() throws {
        let (settings, dir) = try Self.settings(batch: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let summary = JSON.obj(["run_id": "r2", "dialogues": 2, "turns": 4, "wall_seconds": 3.0, "duplicates": .null])
        let text = RunSummaryText.render(summary: summary, totals: Self.totals(), settings: settings)
        // 4000 prompt tokens at 1.0 and 1000 completion tokens at 2.0 per million: $0.006.
        let cost = try #require(text.split(separator: "\n").first { $0.hasPrefix("  cost") }, "\(text)")
        #expect(cost.contains("$0.0060") && !cost.contains("batch"), "\(cost)")
        #expect(!text.contains("  dedup"), "\(text)")
    }
}
