// The stages in a shell pipe, and dlg-run: whole runs over the example project.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// Runs `dlg-run` in `work` against `mock`; returns the result and its summary when stdout holds one.
func runDlgRun(_ work: WorkDir, _ mock: MockServerProcess, runID: String, timeout: Duration = .seconds(300))
    async throws -> (ToolResult, JSONObject?) {
    let r = try await stage("dlg-run", work, mock, ["--run-id", runID], timeout: timeout)
    return (r, try? JSONL.object(r.stdout))
}

/// The example project in English only, with `total` completed dialogues wanted, `batch` at a time.
func smallProject(label: String, total: Int, batch: Int) throws -> WorkDir {
    let work = try WorkDir(label: label)
    try work.setConfig("run.target_languages", "[en]")
    try work.setConfig("run.total_samples", "\(total)")
    try work.setConfig("run.batch_size", "\(batch)")
    return work
}

/// The finished dialogues of a run (`run_state/<run_id>/finished.jsonl`, written at its end), else
/// the finished ones in its journal (a run that stopped early).
func finalCheckpoints(_ work: WorkDir, runID: String) throws -> [JSONObject] {
    let dir = "outputs/run_state/\(runID)"
    if work.exists("\(dir)/finished.jsonl") { return try work.records("\(dir)/finished.jsonl") }
    guard work.exists("\(dir)/journal.jsonl") else { return [] }
    var latest: [String: JSONObject] = [:]
    for r in try work.records("\(dir)/journal.jsonl") { latest[r["conversation_id"]?.stringValue ?? ""] = r }
    return latest.values.filter { $0["status"]?.stringValue != "active" }
}

/// What every finished run must satisfy: the dataset files, one index line per completed dialogue,
/// no question twice (turns.jsonl and the ledger), a verdict on every turn when judging online.
func checkFinishedRun(_ work: WorkDir, _ r: ToolResult, summary: JSONObject?, completed: [String: Int],
                      judged: Bool = true, allowTemporaries: Bool = false,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
    let s = try #require(summary, "no JSON summary on stdout\n\(r)", sourceLocation: sourceLocation)
    var expected = JSONObject()
    for (k, v) in completed.sorted(by: { $0.key < $1.key }) { expected[k] = .int(v) }
    #expect(s["completed"] == .object(expected), "summary completed \(s["completed"]?.serialized() ?? "nil")\n\(r)", sourceLocation: sourceLocation)
    let total = completed.values.reduce(0, +)
    #expect(s["dialogues"]?.intValue == total, "\(r)", sourceLocation: sourceLocation)
    for key in ["run_id", "completed", "dialogues", "turns", "dropped", "mean_judge_score", "tokens", "wall_seconds", "output_dir"] {
        #expect(s[key] != nil, "summary has no \(key)\n\(r)", sourceLocation: sourceLocation)
    }
    for name in datasetFiles + ["coverage_ledger.jsonl"] {
        #expect(work.exists("outputs/\(name)"), "outputs/\(name) missing", sourceLocation: sourceLocation)
    }
    if !allowTemporaries {
        #expect(temporaryFiles(work).isEmpty, "temporary files left: \(temporaryFiles(work))", sourceLocation: sourceLocation)
    }

    let index = try work.records("outputs/conversations_index.jsonl")
    #expect(index.count == total, "conversations_index.jsonl has \(index.count) lines", sourceLocation: sourceLocation)
    let ids = index.compactMap { $0["conversation_id"]?.stringValue }
    #expect(JSONL.duplicates(ids).isEmpty, "ids twice in the index: \(JSONL.duplicates(ids))", sourceLocation: sourceLocation)
    var perLanguage: [String: Int] = [:]
    for line in index { perLanguage[line["language"]?.stringValue ?? "?", default: 0] += 1 }
    #expect(perLanguage == completed, "languages in the index: \(perLanguage)", sourceLocation: sourceLocation)
    let files = Set(work.files(under: "outputs/conversations").filter { !allowTemporaries || !$0.contains(".tmp") })
    #expect(files == Set(ids.map { "\($0).json" }), "conversations/ holds \(files.sorted())", sourceLocation: sourceLocation)

    let turns = try work.records("outputs/turns.jsonl")
    #expect(s["turns"]?.intValue == turns.count, "summary turns vs turns.jsonl (\(turns.count))\n\(r)", sourceLocation: sourceLocation)
    let questions = turns.map { JSONL.normalized($0["user_message"]?.stringValue ?? "") }
    #expect(JSONL.duplicates(questions).isEmpty, "questions twice in turns.jsonl: \(JSONL.duplicates(questions))", sourceLocation: sourceLocation)
    let keys = turns.map { "\($0["conversation_id"]?.stringValue ?? "")#\($0["turn_index"]?.intValue ?? -1)" }
    #expect(JSONL.duplicates(keys).isEmpty, "turns twice in turns.jsonl: \(JSONL.duplicates(keys))", sourceLocation: sourceLocation)
    #expect(Set(turns.compactMap { $0["conversation_id"]?.stringValue }) == Set(ids), sourceLocation: sourceLocation)
    if judged {
        let unjudged = turns.filter { !(0...10).contains($0["judge_score"]?.intValue ?? -1) }
        #expect(unjudged.isEmpty, "turns without a judge score: \(unjudged.map { JSON.object($0).serialized() }.prefix(2))", sourceLocation: sourceLocation)
    }
    let ledger = try work.records("outputs/coverage_ledger.jsonl")
    let ledgerQuestions = ledger.map { JSONL.normalized($0["question"]?.stringValue ?? "") }
    #expect(JSONL.duplicates(ledgerQuestions).isEmpty, "questions twice in the ledger: \(JSONL.duplicates(ledgerQuestions))", sourceLocation: sourceLocation)
    #expect(Set(questions).isSubset(of: Set(ledgerQuestions)), "every accepted question is in the ledger", sourceLocation: sourceLocation)
}

@Suite("pipeline and dlg-run") struct RunTests {
    /// The four stages in a shell pipe, as the Makefile runs them: one turn for four new dialogues.
    @Test func theStagesComposeInAPipe() async throws {
        let work = try WorkDir()
        try await withMock(["--seed", "41"]) { mock in
            func tool(_ name: String) throws -> String { "'\(try ToolPaths.binary(name))' --config '\(work.configPath)'" }
            let script = try "\(tool("dlg-gen")) --new 4 --language en --run-id pipe | \(tool("dlg-dedup")) | \(tool("dlg-respond")) | \(tool("dlg-judge"))"
            let r = try await runShell(script, env: mock.env, cwd: work.url)
            try #require(r.status == 0, "\(r)")
            let records = try JSONL.records(r.stdout)
            try #require(records.count == 4, "\(r)")
            #expect(records.map { $0["index"]?.intValue ?? -1 } == [0, 1, 2, 3], "\(r)")
            #expect(records.map { $0["conversation_id"]?.stringValue ?? "" } == ["pipe-en-0000", "pipe-en-0001", "pipe-en-0002", "pipe-en-0003"], "\(r)")
            for rec in records {
                #expect(rec["status"]?.stringValue != "dropped", "\(JSON.object(rec).serialized())")
                #expect(rec["pending"] == nil, "\(JSON.object(rec).serialized())")
                let turns = rec["turns"]?.arrayValue ?? []
                #expect(turns.count == 1, "\(JSON.object(rec).serialized())")
                for t in turns { checkVerdict(t["qa_judge"], allowed: Set(ConfigDefaultReasons.all), "\(rec["conversation_id"]?.stringValue ?? "")") }
                let done = rec["target_turns"]?.intValue == 1
                #expect(rec["status"]?.stringValue == (done ? "completed" : "active"), "\(JSON.object(rec).serialized())")
            }
        }
    }

    /// A closed stdout (`| head -1`) ends a stage quietly: exit 0 under pipefail, no error message.
    @Test func closedStdoutEndsTheStageQuietly() async throws {
        let work = try WorkDir()
        try await withMock(["--seed", "43"]) { mock in
            let gen = "'\(try ToolPaths.binary("dlg-gen"))' --config '\(work.configPath)'"
            let r = try await runShell("\(gen) --new 20 --language en --run-id head | head -1", env: mock.env, cwd: work.url)
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines.count == 1, "\(r)")
            #expect(!r.stderr.contains("error"), "\(r)")
        }
    }

    /// examples/config.yaml as it is: 2 languages x 6 dialogues, batches of 4, 1-3 turns, judged per turn.
    @Test func exampleRunWritesTheWholeDataset() async throws {
        let work = try WorkDir()
        try await withMock(["--seed", "42"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "example")
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 6, "fr": 6])
            #expect(summary?["run_id"]?.stringValue == "example", "\(r)")
            #expect(summary?["output_dir"]?.stringValue == work.file("outputs").path, "\(r)")
            for log in ["run.log", "llm.log", "judge.log"] { #expect(work.exists("logs/\(log)"), "logs/\(log) missing") }
            // The run's time for the report, as the summary says it (logs/runs.jsonl, RunTimings).
            let times = try work.records("logs/runs.jsonl")
            #expect(times.count == 1 && times.first?["run_id"] == "example" && times.first?["shard"] == .null
                    && times.first?["wall_seconds"] == summary?["wall_seconds"], "\(times)")
            #expect(try work.read("outputs/run_state/last_run_id.txt") == "example\n")
            let state = try JSONL.object(try work.read("outputs/run_state/example.json"))
            #expect(state["status"]?.stringValue == "completed", "\(state["status"]?.serialized() ?? "nil")")
            // Every turn of every completed dialogue in the checkpoints has its verdict, and its length is in range.
            for rec in try finalCheckpoints(work, runID: "example") where rec["status"]?.stringValue == "completed" {
                let turns = rec["turns"]?.arrayValue ?? []
                #expect((1...3).contains(turns.count), "\(rec["conversation_id"]?.stringValue ?? "") has \(turns.count) turns")
                for t in turns { checkVerdict(t["qa_judge"], allowed: Set(ConfigDefaultReasons.all), "\(rec["conversation_id"]?.stringValue ?? "")") }
            }
        }
    }

    /// dlg-mock's `--duplicate-rate` answers (Sources/DlgMock/Engine/Agents.swift, `duplicatePool`).
    static let genericQuestions = [
        "What is this system used for?", "How do I get started with this?", "Can you explain how this works?",
    ]

    /// A one-language run of 1-turn dialogues whose ledger already holds the mock's generic questions
    /// (as if an earlier run had accepted them): with `--duplicate-rate 0.6`, 6 questions in 10 are
    /// duplicates of the ledger, whatever the mock's hash draws.
    static func duplicateProject(totalSamples: Int, batchSize: Int, retries: Int) throws -> WorkDir {
        let work = try WorkDir()
        try work.setConfig("run.target_languages", "[en]")
        try work.setConfig("run.total_samples", String(totalSamples))
        try work.setConfig("run.batch_size", String(batchSize))
        try work.setConfig("run.min_turns", "1")
        try work.setConfig("run.max_turns", "1")
        try work.setConfig("coverage.question_dedup_retries", String(retries))
        let lines = genericQuestions.enumerated().map { i, q in
            JSON.obj([
                "timestamp": "2026-11-20T09:00:00Z", "topic_id": "earlier", "source_path": "home_composting.md",
                "question": .string(q), "question_hash": "0000000000000000", "question_mode": "fresh",
                "seed_topic": "", "seed_question": "", "seed_question_hash": "",
                "conversation_id": .string("earlier-run-000\(i)"), "turn_index": 1, "language": "en",
            ]).serialized() + "\n"
        }
        try work.write("outputs/coverage_ledger.jsonl", lines.joined())
        return work
    }

    /// Questions dlg-dedup rejected: it logs each one (the journal keeps only the latest state of a
    /// dialogue once the run is done), and a turn whose question was regenerated says so in `attempt`.
    static func rejections(_ work: WorkDir, runID: String) throws -> Int {
        let logged = (try? work.read("logs/run.log"))?.components(separatedBy: "| dlg.dedup | duplicate question").count ?? 1
        let regenerated = try finalCheckpoints(work, runID: runID).flatMap { Record.turns($0) }
            .filter { ($0["attempt"]?.intValue ?? 1) > 1 }.count
        #expect(logged - 1 >= regenerated, "every regenerated question follows a logged rejection")
        return logged - 1
    }

    /// Duplicates of the ledger are rejected and regenerated, and never reach the dataset. With
    /// question_dedup_retries 10 a dialogue is practically never dropped (0.6^11), so the run does not
    /// depend on how dlg-run treats a wave without completed dialogues (see the next test).
    @Test func questionsAlreadyInTheLedgerNeverReachTheDataset() async throws {
        let work = try Self.duplicateProject(totalSamples: 8, batchSize: 4, retries: 10)
        try await withMock(["--seed", "7", "--duplicate-rate", "0.6"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "dup-ledger")
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 8])
            let finals = try finalCheckpoints(work, runID: "dup-ledger")
            let dropped = finals.filter { $0["status"]?.stringValue == "dropped" }
            let rejected = try Self.rejections(work, runID: "dup-ledger")
            #expect(rejected + dropped.count > 0, "no question was rejected: the duplicates were not exercised\n\(r)")
            try Self.checkDuplicatesKeptOut(work, r, summary: summary, runID: "dup-ledger")
            let ledger = JSONL.lines(try work.read("outputs/coverage_ledger.jsonl"))
            #expect(ledger.prefix(3).map { (try? JSONL.object($0))?["conversation_id"]?.stringValue ?? "" }
                    == ["earlier-run-0000", "earlier-run-0001", "earlier-run-0002"], "the earlier ledger lines must be kept")
        }
    }

    /// A wave whose few dialogues were all dropped as duplicates must not end the run: later waves
    /// replace them until run.total_samples are completed (here 3 in waves of at most 2, no retry).
    /// The judge-only pass (`make judge`, `dlg-run --judge-only`): a run made without online judging is
    /// judged afterwards from its finished.jsonl into judged.jsonl, and the dataset files are rewritten
    /// with the verdicts.
    @Test func theJudgeOnlyPassJudgesAFinishedRun() async throws {
        let work = try smallProject(label: "judge-only", total: 2, batch: 2)
        try work.setConfig("judge.mode", "offline")
        try await withMock(["--seed", "82"]) { mock in
            let (r, _) = try await runDlgRun(work, mock, runID: "jo")
            try #require(r.status == 0, "\(r)")
            let before = try work.records("outputs/run_state/jo/finished.jsonl")
            let unjudged: (JSON) -> Bool = { $0["qa_judge"]?.objectValue?.isEmpty != false || $0["qa_judge"]?["notes"] == "disabled" }
            #expect(before.allSatisfy { Record.turns($0).allSatisfy(unjudged) }, "offline judging leaves the run unjudged")
            let judged = try await stage("dlg-run", work, mock, ["--run-id", "jo", "--judge-only"])
            try #require(judged.status == 0, "\(judged)")
            #expect(judged.stderr.contains("judged \(before.count) finished dialogue(s)"), "\(judged)")
            let after = try work.records("outputs/run_state/jo/judged.jsonl")
            #expect(after.map(Record.id) == before.map(Record.id))
            for rec in after where Record.status(rec) == .completed {
                for t in Record.turns(rec) {
                    checkVerdict(t["qa_judge"], allowed: Set(ConfigDefaultReasons.all), "judged.jsonl \(Record.id(rec))")
                }
            }
            let rows = try work.records("outputs/conversations_sharegpt_judged.jsonl")
            #expect(!rows.isEmpty && rows.allSatisfy { $0["judge"]?["avg_score"]?.doubleValue != nil }, "judge column filled")
        }
    }

    /// A checkpoint interval that is not a number of seconds is a config error naming the variable,
    /// before any work starts.
    @Test func aBadCheckpointIntervalIsRefused() async throws {
        let work = try smallProject(label: "bad-checkpoint", total: 1, batch: 1)
        defer { work.cleanup() }
        let r = try await runTool("dlg-run", args: ["--config", work.configPath, "--run-id", "bad"],
                                  env: ["DLG_CHECKPOINT_SECONDS": "soon"], cwd: work.url)
        #expect(r.status == 78, "\(r)")
        #expect(r.stderr.contains("DLG_CHECKPOINT_SECONDS=soon: not a number of seconds"), "\(r)")
        #expect(!work.exists("outputs/run_state/bad"), "nothing was started")
    }

    /// Upstream keys for what this version does not do yet: the run goes on locally and says so.
    @Test func whatIsNotAvailableYetIsSaidNotSilentlySkipped() async throws {
        let work = try smallProject(label: "not-yet", total: 1, batch: 1)
        try work.setConfig("run.distributed", "{enabled: true}")
        try work.setConfig("tools.web_search_enabled", "true")
        try work.setConfig("saving.hf_push", "{enabled: true, auto_push_on_run: true, repo_id: me/data}")
        try await withMock(["--seed", "81"]) { mock in
            // No token anywhere (not even a developer's huggingface-cli login): the upload cannot happen.
            let r = try await stage("dlg-run", work, mock, ["--run-id", "not-yet"], env: ["HF_TOKEN_PATH": "/nonexistent/hf-token"])
            let summary = try? JSONL.object(r.stdout)
            try #require(r.status == 0, "\(r)")
            #expect(summary?["completed"]?["en"]?.intValue == 1, "\(r)")
            for key in ["run.distributed.enabled", "tools.web_search_enabled"] {
                #expect(r.stderr.contains("dlg-run: warning: \(key)"), "no warning for \(key)\n\(r)")
            }
            // saving.hf_push.auto_push_on_run is done now; without a token it is a warning after the run.
            #expect(r.stderr.contains("dlg-run: warning: upload to the Hub failed: no Hugging Face token"), "\(r)")
        }
    }

    /// The run is also resumable: exit 75 invites a rerun, which must get further.
    @Test func aWaveWithoutCompletedDialoguesDoesNotEndTheRun() async throws {
        let work = try Self.duplicateProject(totalSamples: 3, batchSize: 2, retries: 0)
        try await withMock(["--seed", "7", "--duplicate-rate", "0.6"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "dup-waves")
            // Whatever the outcome, what was written so far must hold no duplicate.
            try Self.checkDuplicatesKeptOut(work, r, summary: summary, runID: "dup-waves")
            guard r.status == 0 else {
                let (again, _) = try await runDlgRun(work, mock, runID: "dup-waves")
                Issue.record("dlg-run stopped before completing 3 dialogues\n\(r)\nrerun with the same --run-id:\n\(again)")
                return
            }
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 3])
        }
    }

    /// Every drop is dedup_exhausted and counted in the summary, no dropped dialogue is exported, and
    /// no question of the pre-filled ledger (or any question twice) reaches turns.jsonl.
    static func checkDuplicatesKeptOut(_ work: WorkDir, _ r: ToolResult, summary: JSONObject?, runID: String,
                                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let finals = try finalCheckpoints(work, runID: runID)
        let dropped = finals.filter { $0["status"]?.stringValue == "dropped" }
        let reasons = Set(dropped.map { $0["drop_reason"]?.stringValue ?? "<none>" })
        #expect(reasons.isSubset(of: ["dedup_exhausted"]), "drop reasons \(reasons.sorted())", sourceLocation: sourceLocation)
        if let summary {
            #expect((summary["dropped"]?["dedup_exhausted"]?.intValue ?? 0) == dropped.count,
                    "summary dropped \(summary["dropped"]?.serialized() ?? "nil") vs \(dropped.count) in the checkpoints", sourceLocation: sourceLocation)
        }
        let turns = work.exists("outputs/turns.jsonl") ? try work.records("outputs/turns.jsonl") : []
        let questions = turns.map { JSONL.normalized($0["user_message"]?.stringValue ?? "") }
        #expect(JSONL.duplicates(questions).isEmpty, "questions twice in turns.jsonl: \(JSONL.duplicates(questions))", sourceLocation: sourceLocation)
        let generic = Set(genericQuestions.map(JSONL.normalized))
        #expect(generic.isDisjoint(with: questions), "ledger questions exported again: \(generic.intersection(questions).sorted())", sourceLocation: sourceLocation)
        if work.exists("outputs/conversations_index.jsonl") {
            let index = Set(try work.records("outputs/conversations_index.jsonl").compactMap { $0["conversation_id"]?.stringValue })
            let droppedIDs = Set(dropped.compactMap { $0["conversation_id"]?.stringValue })
            #expect(index.isDisjoint(with: droppedIDs), "dropped dialogues exported: \(index.intersection(droppedIDs).sorted())", sourceLocation: sourceLocation)
        }
    }
}
