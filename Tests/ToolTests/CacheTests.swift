// The response cache across runs: a second run with the same question seed is served entirely from the
// cache (zero chat requests) and yields the same dataset; runs killed mid-write leave no torn entry.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("response cache") struct CacheTests {
    /// The dialogues' content, without what names the run (ids, timestamps): per language and slot,
    /// each turn's question and answer.
    static func dataset(_ work: WorkDir) throws -> [String] {
        try work.records("outputs/turns.jsonl").map { t in
            let id = t["conversation_id"]?.stringValue ?? ""
            let slot = id.split(separator: "-").suffix(2).joined(separator: "-")
            return "\(slot)#\(t["turn_index"]?.intValue ?? -1): \(t["user_message"]?.stringValue ?? "") => \(t["assistant_message"]?.stringValue ?? "") [\(t["judge_score"]?.intValue ?? -1)]"
        }.sorted()
    }

    @Test func aSecondRunWithTheSameQuestionSeedMakesNoChatRequest() async throws {
        let first = try smallProject(label: "cache-first", total: 3, batch: 2)
        let second = try smallProject(label: "cache-second", total: 3, batch: 2)
        defer { first.cleanup(); second.cleanup() }
        for w in [first, second] {
            try w.setConfig("run.question_seed", "same-seed")
            try w.setConfig("run.max_turns", "2")
            // Balanced coverage picks passages from the ledger as it stands, which depends on the order
            // the dialogues finish in: off, every request depends on the question seed alone.
            try w.setConfig("coverage.doc_coverage_mode", "\"off\"")
        }
        // The second project reads the first one's cache (its own outputs, ledger included, are fresh).
        let cachePath = first.file("outputs/llm_cache.sqlite").path
        try second.setConfig("llm.cache", "{path: \(cachePath)}")

        let firstChats = try await withMock(["--seed", "61"]) { mock in
            let (r, summary) = try await runDlgRun(first, mock, runID: "first")
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(first, r, summary: summary, completed: ["en": 3])
            return try await mock.stats()["chat_completions"]?.intValue ?? -1
        }
        #expect(firstChats > 0)
        try await withMock(["--seed", "61"]) { mock in
            let (r, summary) = try await runDlgRun(second, mock, runID: "second")
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(second, r, summary: summary, completed: ["en": 3])
            let stats = try await mock.stats()
            #expect(stats["chat_completions"]?.intValue == 0, "the second run asked the server: \(stats.serialized())")
        }
        #expect(try Self.dataset(second) == Self.dataset(first))
        let log = try second.read("logs/llm.log")
        #expect(log.contains("cache=hit"), "llm.log names the hits")
        let hits = log.split(separator: "\n").filter { $0.contains("summary tool=") }
            .compactMap { $0.split(separator: " ").first { $0.hasPrefix("cache_hits=") }.flatMap { Int($0.dropFirst(11)) } }
        #expect(hits.reduce(0, +) == firstChats, "summary lines count the hits: \(hits) vs \(firstChats) requests")
    }

    @Test func noCacheFlagAndEnvironmentLeaveNoCache() async throws {
        let work = try smallProject(label: "cache-off", total: 1, batch: 1)
        defer { work.cleanup() }
        try await withMock(["--seed", "62"]) { mock in
            let off = try await stage("dlg-gen", work, mock, ["--new", "1", "--run-id", "x", "--no-cache"])
            #expect(off.status == 0, "\(off)")
            #expect(!work.exists("outputs/llm_cache.sqlite"))
            let env = try await stage("dlg-gen", work, mock, ["--new", "1", "--run-id", "x"], env: ["DLGFORGE_CACHE": "0"])
            #expect(env.status == 0, "\(env)")
            #expect(!work.exists("outputs/llm_cache.sqlite"))
            let on = try await stage("dlg-gen", work, mock, ["--new", "1", "--run-id", "x"])
            #expect(on.status == 0, "\(on)")
            #expect(work.exists("outputs/llm_cache.sqlite"))
            let before = try await mock.stats()["chat_completions"]?.intValue ?? -1
            let again = try await stage("dlg-gen", work, mock, ["--new", "1", "--run-id", "x"])
            func question(_ r: ToolResult) -> String? {
                (try? JSONL.records(r.stdout))?.first.flatMap { Record.pending($0)?["user_message"]?.stringValue }
            }
            #expect(again.status == 0 && question(again) != nil && question(again) == question(on), "\(again)")
            #expect(try await mock.stats()["chat_completions"]?.intValue == before, "the same request again is served by the cache")
        }
        // dlg-run hands its --no-cache to its stages.
        let args = StageCommand.loop(config: "c.yaml", inFlight: 2, noCache: true).map { $0.arguments(toolsDir: "/t") }
        #expect(args.allSatisfy { $0.contains("--no-cache") })
    }

    @Test func runsKilledMidWriteLeaveNoTornEntry() async throws {
        let work = try smallProject(label: "cache-kill", total: 12, batch: 6)
        defer { work.cleanup() }
        try work.setConfig("run.max_turns", "3")
        let cachePath = work.file("outputs/llm_cache.sqlite").path
        try await withMock(["--seed", "63", "--latency-ms", "200"]) { mock in
            var kills = 0
            // 12 dialogues of up to 3 turns, 6 at once, 200 ms a reply: replies reach the cache all the
            // time, and each run (a resumed one replays its cached calls at once, then goes on) lasts long
            // enough for a test process starved by the suite running beside it to catch it.
            // Each kill lands while the stages are working: once the journal holds more checkpoints than
            // before (as ResumeTests waits), so a loaded machine does not make a kill miss the run.
            let journal = work.file("outputs/run_state/k/journal.jsonl").path
            @Sendable func checkpoints() -> Int {
                (FileManager.default.contents(atPath: journal) ?? Data()).reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
            }
            for (i, delay) in [0, 20, 45, 80].enumerated() {
                let before = checkpoints()
                let run = try startTool("dlg-run", args: ["--config", work.configPath, "--run-id", "k"], env: mock.env, cwd: work.url)
                // The first run writes 6 admissions before any LLM call: wait past them.
                let target = (before == 0 ? 6 : before) + 1 + i
                // Watched from a thread of its own: the tests running beside this one can starve the
                // cooperative pool long enough for a whole run to go by.
                let killed = await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
                    Thread.detachNewThread {
                        let deadline = Date().addingTimeInterval(60)
                        while run.isRunning && checkpoints() < target && Date() < deadline { usleep(2000) }
                        usleep(UInt32(delay * 1000))
                        if run.isRunning { run.kill(group: true); done.resume(returning: true) } else { done.resume(returning: false) }
                    }
                }
                guard killed else {
                    let r = try await run.finish()
                    // It finished before this kill: nothing left to interrupt.
                    #expect(r.status == 0, "\(r)")
                    print("cache kill test: the run finished before kill \(i + 1)")
                    break
                }
                _ = try await run.finish(timeout: .seconds(10))
                kills += 1
                // Opened after the kill, as the next run opens it: every entry whole.
                if FileManager.default.fileExists(atPath: cachePath) {
                    let check = try ResponseCache(path: cachePath).check()
                    #expect(check.damaged == 0, "after kill \(kills): \(check)")
                }
            }
            #expect(kills >= 2, "only \(kills) kill(s) landed while the run was running")
            let (r, summary) = try await runDlgRun(work, mock, runID: "k")
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 12], allowTemporaries: true)
            let check = try ResponseCache(path: cachePath).check()
            #expect(check.entries > 0 && check.damaged == 0, "\(check)")
            #expect(!(try work.read("logs/llm.log")).contains("cache_damaged="), "no damaged entry was met")
        }
    }
}
