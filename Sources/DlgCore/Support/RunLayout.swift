import Foundation

/// Every path and file name of a run, in one place: what a run writes under the project's output
/// folder (`saving.output_dir`) and logs folder, and where its readers (the export, the report, a
/// resumed run, `dlg-cluster`) find it. No other file spells these names.
///
///     <output_dir>/synthetic_qa.jsonl, turns.jsonl, conversations_sharegpt.jsonl,
///                  conversations_sharegpt_judged.jsonl, conversations_index.jsonl   the dataset files
///                  conversations_sharegpt_filtered.jsonl   with saving.filters.* set
///                  conversations/<conversation_id>.json, metrics.json, report.html, coverage_ledger.jsonl
///                  run_state/last_run_id.txt, dataset_commit.json, <run_id>.json (upstream's state file)
///                  run_state/<run_id>/journal.jsonl, finished.jsonl, judged.jsonl
///     <project>/logs/run.log, llm.log, judge.log, runs.jsonl
///
/// A run id or conversation id becomes a path only through this type, checked by `SafeID`.
public struct RunLayout: Sendable {
    public static let logsFolder = "logs"
    public static let stateFolder = "run_state"
    public static let conversationsFolder = "conversations"

    public static let syntheticFile = "synthetic_qa.jsonl"
    public static let turnsFile = "turns.jsonl"
    public static let sharegptFile = "conversations_sharegpt.jsonl"
    public static let judgedFile = "conversations_sharegpt_judged.jsonl"
    public static let indexFile = "conversations_index.jsonl"
    /// The dataset files every export writes, in the order their rows are handed out.
    public static let datasetFiles = [syntheticFile, turnsFile, sharegptFile, judgedFile, indexFile]
    /// The dialogues that pass the quality filters, written only while a filter is set.
    public static let filteredFile = "conversations_sharegpt_filtered.jsonl"
    public static let metricsFile = "metrics.json"
    public static let reportFile = "report.html"
    /// The file dedup store, which is also upstream's coverage ledger.
    public static let ledgerFile = "coverage_ledger.jsonl"
    /// The Hub export's defaults (`saving.hf_push.export_dir`, `stats_file`).
    public static let hubExportFolder = "hf_export"
    public static let hubStatsFile = "dataset_stats.json"

    /// Under `run_state/`: the id of the last run started, and the dataset files' commit point.
    public static let lastRunIDFile = "last_run_id.txt"
    public static let datasetCommitFile = "dataset_commit.json"
    /// Under `run_state/<run_id>/`: every state each dialogue reached, the latest state of each
    /// finished one, and the judge-only pass's output.
    public static let journalFile = "journal.jsonl"
    public static let finishedFile = "finished.jsonl"
    public static let rejudgedFile = "judged.jsonl"
    /// Under `run_state/<run_id>/`: each question dlg-dedup rejected (`DedupRejections`).
    public static let dedupRejectionsFile = "dedup_rejections.jsonl"
    /// Under `run_state/<run_id>/`: batch mode's record of the run's files and batches (`BatchRecord`).
    public static let batchesFolder = "batches"
    /// The run's limits broker's socket (`LimitBroker`), when the path is short enough.
    public static let limitsSocket = "limits.sock"

    public static let runLog = "run.log"
    public static let llmLog = "llm.log"
    public static let judgeLog = "judge.log"
    /// One JSON line per dlg-run that finished a run or part of it (`RunTimings`): what the report
    /// reads of a run's time. Beside the text logs, so a cluster's shards ship it with them.
    public static let runsFile = "runs.jsonl"

    /// The output folder (absolute) and the logs folder.
    public let outputDir: String
    public let logsDir: String

    public init(outputDir: String, logsDir: String) {
        self.outputDir = outputDir
        self.logsDir = logsDir
    }

    /// A file of the output folder, by name (`datasetFiles`, `metricsFile`, ...).
    public func output(_ name: String) -> String { (outputDir as NSString).appendingPathComponent(name) }
    /// A log file, by name (`runLog`, `llmLog`, ...).
    public func log(_ name: String) -> String { (logsDir as NSString).appendingPathComponent(name) }

    public var conversationsDir: String { output(Self.conversationsFolder) }
    public var metricsPath: String { output(Self.metricsFile) }
    public var reportPath: String { output(Self.reportFile) }
    public var ledgerPath: String { output(Self.ledgerFile) }
    public var filteredPath: String { output(Self.filteredFile) }
    /// `run_state/`, and its files that belong to no one run.
    public var stateRoot: String { output(Self.stateFolder) }
    public var lastRunIDPath: String { (stateRoot as NSString).appendingPathComponent(Self.lastRunIDFile) }
    public var datasetCommitPath: String { (stateRoot as NSString).appendingPathComponent(Self.datasetCommitFile) }

    /// `conversations/<conversation_id>.json`.
    public func conversationFile(_ id: String) throws(DlgError) -> String {
        (conversationsDir as NSString).appendingPathComponent(try Self.checked(id, "conversation id", .data) + ".json")
    }

    /// `run_state/<run_id>/`, the run's own folder.
    public func runDir(_ runID: String) throws(DlgError) -> String {
        (stateRoot as NSString).appendingPathComponent(try Self.checked(runID, "run id"))
    }
    /// `run_state/<run_id>.json`, upstream's run state file.
    public func runStateFile(_ runID: String) throws(DlgError) -> String {
        (stateRoot as NSString).appendingPathComponent(try Self.checked(runID, "run id") + ".json")
    }
    public func journal(_ runID: String) throws(DlgError) -> String { try inRun(runID, Self.journalFile) }
    public func finished(_ runID: String) throws(DlgError) -> String { try inRun(runID, Self.finishedFile) }
    public func rejudged(_ runID: String) throws(DlgError) -> String { try inRun(runID, Self.rejudgedFile) }
    public func dedupRejections(_ runID: String) throws(DlgError) -> String { try inRun(runID, Self.dedupRejectionsFile) }
    public func batches(_ runID: String) throws(DlgError) -> String { try inRun(runID, Self.batchesFolder) }

    func inRun(_ runID: String, _ name: String) throws(DlgError) -> String {
        (try runDir(runID) as NSString).appendingPathComponent(name)
    }

    /// A run's folder among a cluster's jobs (`<cluster state>/jobs/<run_id>`), the project shipped to its shards.
    public static func clusterJobDir(stateDir: String, runID: String) throws(DlgError) -> String {
        (stateDir as NSString).appendingPathComponent("jobs/" + (try checked(runID, "run id")))
    }

    /// `id` when it may name a file or folder (`SafeID`), else the error: `run id "a/b" must not contain "/" or ".."`.
    public static func checked(_ id: String, _ what: String, _ code: DlgError.Code = .usage) throws(DlgError) -> String {
        if let problem = SafeID.problem(id) { throw DlgError(code, "\(what) \"\(id)\" \(problem)") }
        return id
    }
}
