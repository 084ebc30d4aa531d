// A run against a server that fails every call stops with exit 75 after a bounded number of calls,
// the journal intact; the same run id against a healthy server then finishes.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("error storm") struct ErrorStormToolTests {
    @Test func aRunAgainstAFailingServerStopsWith75AndResumesWhenItIsHealthy() async throws {
        let work = try smallProject(label: "storm", total: 2, batch: 2)
        defer { work.cleanup() }
        try work.setConfig("run.max_turns", "1")
        try work.setConfig("llm.max_retries", "1")
        try work.setConfig("llm.error_storm", "{window: 10, min_calls: 8}")
        let runID = "storm"
        let failing = try await withMock(["--seed", "9", "--fault-500", "1"]) { mock in
            let (r, _) = try await runDlgRun(work, mock, runID: runID, timeout: .seconds(120))
            let chat = try await mock.stats()["chat_completions"]?.intValue ?? -1
            return (r, chat)
        }
        let (r, chat) = failing
        #expect(r.status == 75, "\(r)")
        #expect(r.stderr.contains("dlg-gen: error: error storm"), "the stage names the storm\n\(r)")
        #expect(r.stderr.contains("HTTP 500"), "the error is named\n\(r)")
        #expect(r.stderr.contains("8 of the last 8 LLM calls failed") && r.stderr.contains("(8 times)"), "its count is given\n\(r)")
        #expect(r.stderr.contains("dlg-run: error:") && r.stderr.contains("error storm"), "\(r)")
        // 8 failed calls (2 requests each with max_retries 1) trip it; only the calls already under way
        // when it tripped (one per dialogue in flight) may send one more request each.
        #expect(chat >= 16 && chat <= 16 + 2 * 2, "chat requests the failing server received: \(chat)")
        let journal = try work.read("outputs/run_state/\(runID)/journal.jsonl")
        #expect(!journal.isEmpty, "the journal holds the dialogues")

        try await withMock(["--seed", "9"]) { mock in
            let (resumed, summary) = try await runDlgRun(work, mock, runID: runID)
            try #require(resumed.status == 0, "\(resumed)")
            try checkFinishedRun(work, resumed, summary: summary, completed: ["en": 2])
        }
    }
}
