// dlg-run killed at many moments and run again with the same id ends with the dataset of a run
// that was never interrupted: nothing lost, nothing written twice.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-run resume") struct ResumeTests {
    static let runID = "resume"

    /// Small enough to run twice within the suite's budget, big enough for many checkpoints:
    /// 2 languages x 3 dialogues, 2 in flight, 1-2 turns.
    static func configure(_ work: WorkDir) throws {
        try work.setConfig("run.total_samples", "3")
        try work.setConfig("run.batch_size", "2")
        try work.setConfig("run.max_turns", "2")
    }

    /// Dialogue states checkpointed so far: whole lines of the run's journal.
    static func checkpoints(_ work: WorkDir, runID: String = runID) -> Int {
        guard let text = try? work.read("outputs/run_state/\(runID)/journal.jsonl") else { return 0 }
        return text.utf8.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
    }

    /// A moment to kill at: once `after` checkpoints exist, plus `delay`; the whole process group
    /// (dlg-run and its stages), or dlg-run alone, leaving its stages running on as orphans beside
    /// the next run.
    struct Kill: CustomStringConvertible {
        var after: Int
        var delay: Duration
        var group: Bool
        var description: String { "after \(after) checkpoint(s) + \(delay), \(group ? "whole group" : "dlg-run only")" }
    }

    @Test func killedRunResumesToTheSameDataset() async throws {
        let reference = try WorkDir(label: "resume-ref")
        let work = try WorkDir(label: "resume-killed")
        try Self.configure(reference)
        try Self.configure(work)
        // The mock's replies depend only on its seed and the request, so both runs see the same answers.
        try await withMock(["--seed", "51", "--latency-ms", "250"]) { mock in
            let (full, fullSummary) = try await runDlgRun(reference, mock, runID: Self.runID)
            try #require(full.status == 0, "uninterrupted run failed\n\(full)")
            // The finished run's journal is compacted to one line per dialogue; the checkpoints it went
            // through were one per dialogue admitted plus one per turn (a regenerated question adds more).
            let total = try finalCheckpoints(reference, runID: Self.runID).reduce(0) { $0 + 1 + Record.turns($1).count }
            try #require(total >= 8, "too few checkpoints (\(total)) to spread the kills over")

            var plan = [Kill(after: 0, delay: .milliseconds(300), group: true),
                        Kill(after: 1, delay: .milliseconds(100), group: false)]
            for (fraction, delay, group) in [(0.25, 600, true), (0.45, 250, false), (0.65, 900, true), (0.85, 0, true)] {
                let after = max(plan.last!.after + 1, Int(Double(total) * fraction))
                plan.append(Kill(after: min(after, total - 1), delay: .milliseconds(delay), group: group))
            }

            var landed: [String] = []
            var orphans: [RunningTool] = []
            do {
                let args = ["--config", work.configPath, "--run-id", Self.runID]
                schedule: for kill in plan {
                    let run = try startTool("dlg-run", args: args, env: mock.env, cwd: work.url)
                    let seen = await watch(until: { Self.checkpoints(work) >= kill.after }, while: { run.isRunning },
                                           timeout: .seconds(120), delay: kill.delay) { run.kill(group: kill.group) }
                    if seen == .timedOut {
                        Issue.record("no checkpoint \(kill.after) within 120 s: \(Self.checkpoints(work)) so far")
                    }
                    guard seen == .fired else {
                        // It finished before this moment: nothing left to interrupt.
                        let r = try await run.finish(timeout: .seconds(10))
                        #expect(r.status == 0, "\(r)")
                        break schedule
                    }
                    let landedAt = "\(kill) [\(Self.checkpoints(work)) checkpoints]"
                    if kill.group {
                        let r = try await run.finish(timeout: .seconds(10))
                        if r.status == 0 { break schedule }  // it finished just before the kill
                        #expect(r.status == 128 + SIGKILL, "\(r)")
                    } else {
                        orphans.append(run)
                    }
                    landed.append(landedAt)
                }
                let (resumed, summary) = try await runDlgRun(work, mock, runID: Self.runID)
                for o in orphans { _ = try await o.finish(timeout: .seconds(30)) }
                orphans = []
                let kills = landed.joined(separator: "\n  ")
                #expect(landed.count >= 5, "only \(landed.count) kill(s) landed while the run was running:\n  \(kills)")
                try #require(resumed.status == 0, "the resumed run failed; kills:\n  \(kills)\n\(resumed)")

                let expected = (fullSummary?["completed"]?.objectValue?.pairs ?? []).reduce(into: [String: Int]()) {
                    $0[$1.key] = $1.value.intValue ?? 0
                }
                try checkFinishedRun(work, resumed, summary: summary, completed: expected, allowTemporaries: true)
                for key in ["completed", "dialogues", "turns", "dropped"] {
                    #expect(summary?[key] == fullSummary?[key], "summary \(key): resumed \(summary?[key]?.serialized() ?? "nil"), uninterrupted \(fullSummary?[key]?.serialized() ?? "nil")\nkills:\n  \(kills)")
                }
                try Self.compare(reference, work, kills: kills)
                // For the log: where the kills landed, and the temporaries they left (not asserted: a
                // SIGKILLed writer cannot remove its own temporary file).
                print("resume test: uninterrupted run \(String(format: "%.1f", full.seconds)) s, \(total) checkpoints; kills:\n  \(kills)")
                let leftovers = temporaryFiles(work)
                if !leftovers.isEmpty { print("resume test: temporaries left by killed runs: \(leftovers)") }
            } catch {
                for o in orphans { _ = try? await o.finish(timeout: .milliseconds(1)) }
                throw error
            }
        }
    }

    /// The killed-and-resumed run holds the same dialogues and questions as the uninterrupted one,
    /// and no output file holds a line (or a ledger entry) twice.
    static func compare(_ reference: WorkDir, _ work: WorkDir, kills: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        func ids(_ w: WorkDir) throws -> Set<String> {
            Set(try w.records("outputs/conversations_index.jsonl").compactMap { $0["conversation_id"]?.stringValue })
        }
        func questions(_ w: WorkDir, _ file: String, _ key: String) throws -> Set<String> {
            Set(try w.records("outputs/\(file)").map { JSONL.normalized($0[key]?.stringValue ?? "") })
        }
        let context = "kills:\n  \(kills)\n(set DLG_KEEP_WORKDIRS=1 to keep \(work.path))"
        let (a, b) = (try ids(reference), try ids(work))
        #expect(a == b, "conversation ids differ: only uninterrupted \(a.subtracting(b).sorted()), only resumed \(b.subtracting(a).sorted())\n\(context)", sourceLocation: sourceLocation)
        let (qa, qb) = (try questions(reference, "turns.jsonl", "user_message"), try questions(work, "turns.jsonl", "user_message"))
        #expect(qa == qb, "questions in turns.jsonl differ: only uninterrupted \(qa.subtracting(qb).sorted()), only resumed \(qb.subtracting(qa).sorted())\n\(context)", sourceLocation: sourceLocation)
        let (la, lb) = (try questions(reference, "coverage_ledger.jsonl", "question"), try questions(work, "coverage_ledger.jsonl", "question"))
        #expect(la == lb, "ledger questions differ: only uninterrupted \(la.subtracting(lb).sorted()), only resumed \(lb.subtracting(la).sorted())\n\(context)", sourceLocation: sourceLocation)
        // Temporaries a kill left behind are reported by the test, not compared here (when a kill lands is timing).
        let conversations = work.files(under: "outputs/conversations").filter { !$0.contains(".tmp") }
        #expect(reference.files(under: "outputs/conversations") == conversations, "\(context)", sourceLocation: sourceLocation)

        for file in work.files(under: "outputs") where file.hasSuffix(".jsonl") {
            let lines = JSONL.lines(try work.read("outputs/\(file)"))
            let twice = JSONL.duplicates(lines)
            #expect(twice.isEmpty, "outputs/\(file) has \(twice.count) line(s) twice: \(twice.keys.map { String($0.prefix(160)) })\n\(context)", sourceLocation: sourceLocation)
        }
        // Ledger lines carry their own timestamp, so a question committed twice is not a repeated line.
        let ledger = try work.records("outputs/coverage_ledger.jsonl")
        let entries = ledger.map { "\($0["conversation_id"]?.stringValue ?? "")#\($0["turn_index"]?.intValue ?? -1)" }
        #expect(JSONL.duplicates(entries).isEmpty, "ledger entries twice: \(JSONL.duplicates(entries))\n\(context)", sourceLocation: sourceLocation)
        let normalized = ledger.map { JSONL.normalized($0["question"]?.stringValue ?? "") }
        #expect(JSONL.duplicates(normalized).isEmpty, "ledger questions twice: \(JSONL.duplicates(normalized))\n\(context)", sourceLocation: sourceLocation)
    }

    /// SIGINT (Ctrl-C) or SIGTERM to dlg-run alone: it stops its stages, saves the run state, says how to
    /// resume and exits 130; no stage is left running; the same run id then finishes the run.
    @Test func anInterruptedRunStopsItsStagesAndResumes() async throws {
        let work = try WorkDir(label: "resume-sigint")
        try Self.configure(work)
        // Enough dialogues that the second interrupt lands well before the end (with 3 per language the
        // resumed run could finish between the checkpoint seen and the signal).
        try work.setConfig("run.total_samples", "8")
        try work.setConfig("run.batch_size", "4")
        try await withMock(["--seed", "52", "--latency-ms", "300"]) { mock in
            let args = ["--config", work.configPath, "--run-id", Self.runID]
            for signal in [SIGINT, SIGTERM] {
                let start = Self.checkpoints(work)
                let run = try startTool("dlg-run", args: args, env: mock.env, cwd: work.url)
                let seen = await watch(until: { Self.checkpoints(work) >= start + 2 }, while: { run.isRunning },
                                       timeout: .seconds(60)) { run.kill(signal, group: false) }
                if seen != .fired {
                    let early = try await run.finish(timeout: .seconds(30))
                    Issue.record("the run ended (or saw no checkpoint) before it could be interrupted (\(seen)):\n\(early)")
                    return
                }
                let r = try await run.finish(timeout: .seconds(30))
                #expect(r.status == 130, "\(r)")
                #expect(r.stderr.contains("interrupted") && r.stderr.contains("--run-id \(Self.runID)"), "\(r)")
                let state = try JSONL.object(try work.read("outputs/run_state/\(Self.runID).json"))
                #expect(state["status"] == "in_progress", "\(JSON.object(state).serialized().prefix(300))")
                #expect(Self.stagesStillRunning(work).isEmpty, "stages left running: \(Self.stagesStillRunning(work))")
            }
            let (resumed, summary) = try await runDlgRun(work, mock, runID: Self.runID)
            try #require(resumed.status == 0, "\(resumed)")
            try checkFinishedRun(work, resumed, summary: summary, completed: ["en": 8, "fr": 8])
        }
    }

    /// Processes whose command line names this work dir's config (the stages dlg-run started).
    static func stagesStillRunning(_ work: WorkDir) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> String? in
            guard Int(name) != nil, let raw = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let cmdline = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return cmdline.contains(work.configPath) && cmdline.contains("dlg-") ? "\(name): \(cmdline)" : nil
        }
    }
}

@Suite("dlg-run when the server goes") struct ServerGoneTests {
    /// The server goes away mid-run: whichever stage notices first stops, dlg-run stops the others (the
    /// ones before it sit idle on their input and would wait forever), exits 69 within a bounded time, and
    /// leaves no stage running; the same run id then finishes against a server that is back.
    @Test(.timeLimit(.minutes(5)))
    func aServerThatGoesAwayMidRunStopsTheRunWith69AndNoStageIsLeft() async throws {
        let work = try smallProject(label: "server-gone", total: 8, batch: 4)
        defer { work.cleanup() }
        try work.setConfig("llm.max_retries", "1")
        try work.setConfig("llm.timeout", "3")
        let mock = try await MockServerProcess(options: ["--seed", "61", "--latency-ms", "200"])
        let run = try startTool("dlg-run", args: ["--config", work.configPath, "--run-id", "gone", "--no-cache"],
                                env: mock.env, cwd: work.url)
        // The server dies (SIGKILL) at once when the sixth checkpoint is seen.
        let seen = await watch(until: { ResumeTests.checkpoints(work, runID: "gone") >= 6 }, while: { run.isRunning },
                               timeout: .seconds(60)) { mock.child.kill(SIGKILL) }
        #expect(seen == .fired, "the run ended before the server went away")
        _ = await mock.stop()
        let started = ContinuousClock.now
        let r = try await run.finish(timeout: .seconds(180))
        #expect(r.status == 69, "\(r)")
        #expect(ContinuousClock.now - started < .seconds(120), "dlg-run took \(ContinuousClock.now - started) to stop")
        #expect(ResumeTests.stagesStillRunning(work).isEmpty, "stages left running: \(ResumeTests.stagesStillRunning(work))")
        try await withMock(["--seed", "61"]) { back in
            let (resumed, summary) = try await runDlgRun(work, back, runID: "gone")
            try #require(resumed.status == 0, "\(resumed)")
            try checkFinishedRun(work, resumed, summary: summary, completed: ["en": 8])
        }
    }
}
