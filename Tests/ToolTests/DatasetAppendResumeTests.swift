// The dataset files grow with the new dialogues during a run (appends up to a commit point in
// outputs/run_state/dataset_commit.json). dlg-run SIGKILLed between checkpoints and run again never
// doubles a line: the files are cut back to the commit point and only dialogues they lack are added.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dataset files appended during a run") struct DatasetAppendResumeTests {
    static let runID = "grow"

    /// The commit point's dialogue count, or -1 before the first commit.
    static func committed(_ work: WorkDir) -> Int {
        guard let text = try? work.read("outputs/run_state/dataset_commit.json"),
              let state = try? JSONCodec.parse(Array(text.utf8)) else { return -1 }
        return state["dialogues"]?.intValue ?? -1
    }

    /// Ids of the index file's whole lines; the lines of every dataset file are checked for doubles.
    static func checkNoDoubles(_ work: WorkDir, when: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        for name in ["synthetic_qa.jsonl", "turns.jsonl", "conversations_sharegpt.jsonl",
                     "conversations_sharegpt_judged.jsonl", "conversations_index.jsonl"] where work.exists("outputs/\(name)") {
            let text = try work.read("outputs/\(name)")
            // Past the commit point a killed run may have left a torn line: only whole lines count here.
            let whole = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)])
            let twice = JSONL.duplicates(JSONL.lines(whole))
            #expect(twice.isEmpty, "\(when): outputs/\(name) has \(twice.count) line(s) twice", sourceLocation: sourceLocation)
        }
        let index = try work.read("outputs/conversations_index.jsonl")
        return index.split(separator: "\n").compactMap { (try? JSONCodec.parse(Array($0.utf8)))?["conversation_id"]?.stringValue }
    }

    @Test(.timeLimit(.minutes(5)))
    func aRunKilledBetweenCheckpointsResumesWithoutADoubledLine() async throws {
        let work = try smallProject(label: "grow", total: 16, batch: 4)
        defer { work.cleanup() }
        try work.setConfig("run.max_turns", "2")
        try await withMock(["--seed", "23", "--latency-ms", "60"]) { mock in
            // A checkpoint after every dialogue that comes back, so kills land between many of them.
            let env = mock.env.merging(["DLG_CHECKPOINT_SECONDS": "0"]) { $1 }
            let args = ["--config", work.configPath, "--run-id", Self.runID]
            var kills: [String] = []
            for target in [2, 6, 10] {
                let run = try startTool("dlg-run", args: args, env: env, cwd: work.url)
                // Watched from a thread of its own: polled from the cooperative pool, which the tests around
                // this one can hold for seconds, the kill came after the 16-dialogue run had ended.
                let outcome = await watch(until: { Self.committed(work) >= target }, while: { run.isRunning },
                                          timeout: .seconds(120)) { run.kill(group: true) }
                guard outcome == .fired else {
                    if run.isRunning { run.kill(group: true) }
                    _ = try await run.finish(timeout: .seconds(10))
                    break
                }
                let r = try await run.finish(timeout: .seconds(10))
                if r.status == 0 { break }
                kills.append("after commit \(Self.committed(work))")
                let ids = try Self.checkNoDoubles(work, when: "killed \(kills.last!)")
                #expect(Set(ids).count == ids.count, "an id twice in the index: \(ids)")
            }
            #expect(kills.count >= 2, "only \(kills.count) kill(s) landed: \(kills)")
            let (resumed, summary) = try await runDlgRun(work, mock, runID: Self.runID)
            try #require(resumed.status == 0, "\(resumed)")
            try checkFinishedRun(work, resumed, summary: summary, completed: ["en": 16], allowTemporaries: true)
            let ids = try Self.checkNoDoubles(work, when: "finished")
            #expect(ids.count == 16 && Set(ids).count == 16, "\(ids)")
            // The finished run's files are a whole export, in run order: the commit point is gone.
            #expect(!work.exists("outputs/run_state/dataset_commit.json"))
            print("dataset append resume: kills \(kills)")
        }
    }
}
