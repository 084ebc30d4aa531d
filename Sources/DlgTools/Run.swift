// dlg-run: a whole generation through the stage tools.
// The root command of `dlg-run` (or `dlg run`), run by the multicall binary Sources/dlg.

import ArgumentParser
import DlgCLI
import DlgCore
import Foundation
import Logging

/// `dlg-run`: a whole generation through the stage tools (what `make run` calls).
public struct DlgRun: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-run",
        abstract: "Run a whole generation through the stage tools (what `make run` calls).",
        discussion: """
        Starts dlg-gen | dlg-dedup | dlg-respond | dlg-judge once and streams dialogues round that loop, \
        run.batch_size at a time (a finished dialogue makes room for a new one at once), until \
        run.total_samples dialogues per language are completed; then writes the dataset files with the \
        exporter. Every state a dialogue reaches is appended to \
        <output_dir>/run_state/<run_id>/journal.jsonl; running again with the same run id (run.run_id, \
        run.resume_run_id or --run-id) resumes each dialogue where it was. stdout: a one-line JSON \
        summary of the run, or on a terminal a short summary for people (--json forces the JSON). \
        stderr: on a terminal, a progress line (DLG_PROGRESS=0 turns it off).
        """)

    public init() {}

    @OptionGroup var common: CommonOptions

    @OptionGroup var runID: RunIDOptions

    @Option(help: "Folder holding the stage tools (default: this tool's folder).")
    var toolsDir: String?

    @Flag(help: "Judge the finished dialogues of the run again (judge-only pass) and rewrite the dataset files.")
    var judgeOnly = false

    @Flag(help: "Print the one-line JSON summary even when stdout is a terminal (it always is the summary in a pipe).")
    var json = false

    @Flag(help: "List the runs the store holds (the database with store.backend: postgres, else run_state/), one JSON object a line, and exit.")
    var listRuns = false

    @Flag(help: "Show each batch of the run (llm.batch_api) as the provider reports it, one JSON object a line, and exit.")
    var batchStatus = false

    @Flag(help: "Cancel the run's batches that have not ended (llm.batch_api), one JSON object a line, and exit.")
    var batchCancel = false

    @Flag(help: "Estimate the run's tokens and cost, direct and in batch mode, from a small sample of it run against the built-in mock (nothing is sent to the configured endpoints, no output of yours is touched), and exit.")
    var dryRun = false

    @Option(help: "Dialogues per language in the --dry-run sample (default 8, at most run.total_samples).")
    var dryRunDialogues: Int?

    @Option(help: "Do one shard of the run, I/N: every language's slots I, I+N, I+2N, ..., its share of run.total_samples and run.batch_size (needs store.backend: postgres; the dataset is then built by dlg-export --run-id). What dlg-cluster run starts on each Ray task.")
    var shard: String?

    public func validate() throws {
        if let shard {
            do { _ = try RunShard(parsing: shard) } catch { throw ValidationError("\"--shard\" \(error.message)") }
            if runID.runID == nil { throw ValidationError("\"--shard\" needs \"--run-id\" (every shard of a run uses the same id)") }
            if judgeOnly || listRuns { throw ValidationError("\"--shard\" goes with neither \"--judge-only\" nor \"--list-runs\"") }
        }
        if listRuns && judgeOnly { throw ValidationError("\"--list-runs\" and \"--judge-only\" do not go together") }
        if dryRun && (judgeOnly || listRuns || shard != nil || batchStatus || batchCancel) {
            throw ValidationError("\"--dry-run\" goes with none of \"--judge-only\", \"--list-runs\", \"--shard\", \"--batch-status\", \"--batch-cancel\"")
        }
        if let n = dryRunDialogues {
            if !dryRun { throw ValidationError("\"--dry-run-dialogues\" needs \"--dry-run\"") }
            if n < 1 { throw ValidationError("\"--dry-run-dialogues\" must be at least 1, got \(n)") }
        }
    }

    /// The run's page (dlg-export --report) and its path on stderr; the dataset is whole without it, so
    /// a failure only warns.
    func writeReport(_ settings: Settings, runID: String?) {
        do throws(DlgError) {
            let report = try RunReport.build(settings: settings, runID: runID)
            StandardError.write("dlg-run: report: \(report.path)")
        } catch {
            StandardError.write("dlg-run: warning: report.html not written: \(error.message)")
        }
    }

    public func run() async throws {
        try await ToolMain.run("dlg-run") {
            let settings = try common.settings()
            if batchStatus || batchCancel { return try await showOrCancelBatches(settings) }
            if listRuns { return try listStoredRuns(settings) }
            warnAboutConfig(settings)
            if dryRun { return try await estimate(settings) }
            // The orchestrator holds its observer weakly: the progress line lives as long as this call.
            let progress = RunProgressLine(tool: "dlg-run", pricing: settings.pricing)
            defer { withExtendedLifetime(progress) {} }
            let orchestrator = try makeOrchestrator(settings, observer: progress)
            if judgeOnly { return try await judgeAgain(settings, orchestrator) }
            return try await generate(settings, orchestrator)
        }
    }

    /// `--list-runs`: one JSON object a line.
    func listStoredRuns(_ settings: Settings) throws -> Int32 {
        let out = FDWriter()
        for run in try StoredRuns.list(settings: settings) { try out.write(JSON.object(run).serialized() + "\n") }
        try out.flush()
        return 0
    }

    /// `--batch-status` / `--batch-cancel`: each of the run's batches, one JSON object a line.
    func showOrCancelBatches(_ settings: Settings) async throws -> Int32 {
        let id = try BatchControl.runID(settings: settings, requested: runID.runID)
        let rows = batchCancel ? await BatchControl.cancel(settings: settings, runID: id)
                               : await BatchControl.status(settings: settings, runID: id)
        let out = FDWriter()
        for row in rows { try out.write(row.json.serialized() + "\n") }
        try out.flush()
        return 0
    }

    /// `--dry-run`: the sample against the mock in this process, then the estimate (JSON in a pipe or with --json).
    func estimate(_ settings: Settings) async throws -> Int32 {
        let dry = DryRun(settings: settings, toolsDir: toolsFolder, dialoguesPerLanguage: dryRunDialogues)
        StandardError.write("dlg-run: dry run: \(dry.dialogues) dialogue(s) per language against the built-in mock, in a temporary folder")
        let estimate = try await DryRunMock.with { url in try await Self.interruptible(dry.interrupt) { try await dry.estimate(mockURL: url) } }
        let out = FDWriter()
        try out.write(json || isatty(1) != 1 ? estimate.json.serialized() + "\n" : DryRunText.render(estimate))
        try out.flush()
        return 0
    }

    func warnAboutConfig(_ settings: Settings) {
        for key in settings.tree.unknownKeys { StandardError.write("dlg-run: warning: \(key): unknown config key, ignored") }
        for warning in settings.tree.warnings { StandardError.write("dlg-run: warning: \(warning)") }
        for missing in settings.notYetSupported { StandardError.write("dlg-run: warning: \(missing)") }
    }

    /// Where the stage tools are: --tools-dir, else this tool's folder.
    var toolsFolder: String {
        toolsDir ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    func makeOrchestrator(_ settings: Settings, observer: (any RunObserver)?) throws -> RunOrchestrator {
        let orchestrator = RunOrchestrator(settings: settings, configPath: common.config, toolsDir: toolsFolder)
        orchestrator.observer = observer
        // DLG_CHECKPOINT_SECONDS: checkpoints more often than every 30 s (tests and benchmarks kill runs between them).
        if let text = ProcessInfo.processInfo.environment["DLG_CHECKPOINT_SECONDS"] {
            guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
                throw DlgError(.config, "DLG_CHECKPOINT_SECONDS=\(text): not a number of seconds (0 or more)")
            }
            orchestrator.checkpointInterval = seconds
        }
        orchestrator.shard = try shard.map { (text: String) throws(DlgError) in try RunShard(parsing: text) }
        return orchestrator
    }

    /// `--judge-only`: the run's finished dialogues judged again (the given run, else the orchestrator's choice).
    func judgeAgain(_ settings: Settings, _ orchestrator: RunOrchestrator) async throws -> Int32 {
        var judgeSettings = settings
        judgeSettings.judge.enabled = true
        try judgeSettings.requireAgent(.qaJudge)
        let judged = try await orchestrator.judgeOnly(runID: runID.runID)
        StandardError.write("dlg-run: judged \(judged) finished dialogue(s); dataset files rewritten in \(settings.outputDir)")
        writeReport(settings, runID: runID.runID)
        return 0
    }

    /// The run itself: the index, the endpoints checked, the stage loop, the summary, the report and the upload.
    func generate(_ settings: Settings, _ orchestrator: RunOrchestrator) async throws -> Int32 {
        _ = try await KnowledgeBase.open(settings: settings, client: nil, observer: WorkProgressLine(tool: "dlg-run"))
        try await orchestrator.preflight(client: LLMClient(logsDir: settings.logsDir))
        let id = runID.chosen(settings)
        StandardError.write("dlg-run: run \(id): \(settings.run.targetLanguages.count) language(s) x \(settings.run.totalSamples) dialogues, batch \(settings.run.batchSize); checkpoint \(settings.store.usesPostgres ? "in postgres (store.backend)" : "\(settings.outputDir)/run_state/\(id)/journal.jsonl")")
        let totals = try await Self.interruptible(orchestrator) { try await orchestrator.run(runID: id) }
        let summary = orchestrator.summary(runID: id, totals: totals)
        DlgLog.logger("dlg.run", logsDir: settings.logsDir, file: "run.log").info("run summary \(summary.serialized())")
        // A shard holds part of a run: dlg-cluster writes the report once the dataset is built.
        if orchestrator.shard == nil { writeReport(settings, runID: id) }
        let out = FDWriter()
        if json || isatty(1) != 1 {
            try out.write(summary.serialized() + "\n")
        } else {
            try out.write(RunSummaryText.render(summary: summary, totals: totals, settings: settings))
        }
        try out.flush()
        if settings.hfPushOnRun { await pushToHub(settings) }
        return 0
    }

    /// Runs `body` with SIGINT and SIGTERM stopping the stages and saving the run state instead of leaving
    /// orphans behind (the stages put the default actions back for themselves).
    static func interruptible<T>(_ orchestrator: RunOrchestrator, _ body: () async throws -> T) async throws -> T {
        try await interruptible(orchestrator.interrupt, body)
    }

    /// The same with `stop` called on the signal (a dry run stops its sample).
    static func interruptible<T>(_ stop: @escaping (Int32) -> Void, _ body: () async throws -> T) async throws -> T {
        let interrupts = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop(number) }
            source.resume()
            return source
        }
        defer { for source in interrupts { source.cancel() } }
        return try await body()
    }

    /// saving.hf_push.auto_push_on_run: as upstream, a failed upload is a warning, the run succeeded.
    func pushToHub(_ settings: Settings) async {
        do {
            let done = try HubExport.prepare(settings: settings)
            let pushed = try await HubUpload.push(folder: done.exportDir, to: try HubUpload.target(settings: settings))
            StandardError.write("dlg-run: uploaded \(pushed.files) file(s) to \(pushed.repoID) on the Hub\(pushed.commitURL.isEmpty ? "" : ": " + pushed.commitURL)")
        } catch {
            StandardError.write("dlg-run: warning: upload to the Hub failed: \(error.message)")
        }
    }
}
