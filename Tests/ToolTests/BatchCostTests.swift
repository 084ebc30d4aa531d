// Costs before and after (issue 26, item 4): dlg-run --dry-run estimates tokens and both costs from a
// sample against the built-in mock, sending nothing to the configured endpoint; the report and the
// dataset card of a run made in batch mode show the batch cost beside the direct one.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("costs: dry run, report and card") struct BatchCostTests {
    @Test func dryRunEstimatesTokensAndBothCostsAndSendsNothingToTheConfiguredEndpoint() async throws {
        let work = try WorkDir(label: "dry-run")
        try work.setConfig("llm.price", "{prompt_per_million: 1.0, completion_per_million: 3.0, batch_discount: 0.4}")
        // The configured endpoint is a mock of its own: it must see no request at all, not even /models.
        try await withMock(["--seed", "81"]) { configured in
            let r = try await stage("dlg-run", work, configured, ["--dry-run", "--dry-run-dialogues", "2"])
            try #require(r.status == 0, "\(r)")
            let e = try JSONL.object(r.stdout)
            #expect(try await configured.stats()["requests"]?.intValue == 0, "the configured endpoint was called\n\(r)")
            // The example: 6 dialogues per language in en and fr; a sample of 2 per language, scaled x3.
            #expect(e["dry_run"] == true && e["dialogues_per_language"] == 6 && e["scale"]?.doubleValue == 3, "\(r)")
            #expect(e["sample"]?["completed"] == .obj(["en": 2, "fr": 2]), "\(r)")
            let sampleTokens = try #require(e["sample"]?["tokens"]?["total_tokens"]?.intValue)
            let tokens = try #require(e["tokens"]?["total_tokens"]?.intValue)
            #expect(sampleTokens > 0 && abs(tokens - 3 * sampleTokens) <= 3, "tokens \(tokens), sample \(sampleTokens)")
            let agents = e["agents"]?.arrayValue?.compactMap { $0["agent"]?.stringValue }
            #expect(agents == ["qa_generator", "kb_responder", "qa_judge"], "\(r)")
            for a in e["agents"]?.arrayValue ?? [] { #expect((a["total_tokens"]?.intValue ?? 0) > 0, "\(a.serialized())") }
            let cost = try #require(e["cost"]?.objectValue, "\(r)")
            let direct = try #require(cost["direct"]?.doubleValue), batch = try #require(cost["batch"]?.doubleValue)
            let prompt = Double(e["tokens"]?["prompt_tokens"]?.intValue ?? 0), completion = Double(e["tokens"]?["completion_tokens"]?.intValue ?? 0)
            #expect(abs(direct - (prompt * 1.0 + completion * 3.0) / 1e6) < 1e-5, "direct \(direct)")
            #expect(direct > 0 && abs(batch - direct * 0.4) < 1e-5 && cost["batch_discount"] == 0.4, "cost \(JSON.object(cost).serialized())")
        }
        // The user's project is as it was: no outputs, no logs, no index written by the sample.
        #expect(!work.exists("outputs") && !work.exists("logs") && !work.exists("knowledge_index"), "\(work.files())")
    }

    @Test func dryRunWithoutPricesGivesTokensAndSaysPricesAreNeeded() async throws {
        let work = try WorkDir(label: "dry-run-unpriced")
        // Nothing listens on the configured endpoint: the dry run does not need it.
        let refused = try RefusedPort()
        let r = try await stage("dlg-run", work, nil, ["--dry-run", "--dry-run-dialogues", "1", "--json"],
                                env: ["DLGFORGE_BASE_URL": refused.baseURL])
        try #require(r.status == 0, "\(r)")
        let e = try JSONL.object(r.stdout)
        #expect(e["cost"] == .null && (e["note"]?.stringValue ?? "").contains("llm.price"), "\(r)")
        #expect((e["tokens"]?["total_tokens"]?.intValue ?? 0) > 0 && e["scale"]?.doubleValue == 6, "\(r)")
        let misuse = try await stage("dlg-run", work, nil, ["--dry-run-dialogues", "2"])
        #expect(misuse.status == 64 && misuse.stderr.contains("--dry-run"), "\(misuse)")
    }

    @Test func reportAndCardOfABatchRunShowBothCosts() async throws {
        let work = try BatchModeTests.project("batch-cost-report")
        try await withMock(["--seed", "82"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "costs")
            try #require(r.status == 0, "\(r)")
            let cost = try #require(summary?["cost"], "\(r)")
            let direct = try #require(cost["direct"]?.doubleValue), batch = try #require(cost["batch"]?.doubleValue)
            let shown = (BatchRunCost.money(batch, "USD"), BatchRunCost.money(direct, "USD"))
            let runs = try work.records("logs/runs.jsonl")
            #expect(runs.last?["batch"] == true && runs.last?["cost"] == cost, "\(runs)")
            let page = try work.read("outputs/report.html")
            #expect(page.contains("Cost (batch mode)") && page.contains(shown.0) && page.contains(shown.1), "no costs in report.html")
            let hub = try await stage("dlg-export", work, nil, ["--hub"])
            try #require(hub.status == 0, "\(hub)")
            let card = try work.read("outputs/hf_export/README.md")
            #expect(card.contains("## Cost") && card.contains(shown.0) && card.contains(shown.1), "\(card)")
        }
        // A direct run writes neither.
        let direct = try smallProject(label: "batch-cost-direct", total: 2, batch: 2)
        try await withMock(["--seed", "83"]) { mock in
            let (r, _) = try await runDlgRun(direct, mock, runID: "direct")
            try #require(r.status == 0, "\(r)")
            #expect(try direct.records("logs/runs.jsonl").last?["batch"] == nil)
            #expect(!(try direct.read("outputs/report.html")).contains("Cost (batch mode)"))
        }
    }
}
