// dlg-export: the dataset files, the Hub folder and its upload, the run report.
// The root command of `dlg-export` (or `dlg export`), run by the multicall binary Sources/dlg.

import ArgumentParser
import Foundation
import DlgCLI
import DlgCore

/// `dlg-export`: writes the dataset files from finished dialogue records.
public struct DlgExport: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-export",
        abstract: "Write the dataset files from finished dialogue records.",
        discussion: """
        stdin: dialogue records (JSONL), or the files given as arguments. Writes, under saving.output_dir: \
        synthetic_qa.jsonl, turns.jsonl, conversations_sharegpt.jsonl, conversations_sharegpt_judged.jsonl, \
        conversations_index.jsonl and conversations/<conversation_id>.json, from the completed dialogues \
        only (dropped and unfinished ones are left out), and metrics.json, their figures (docs/metrics.md). Each file is rewritten whole through a temporary \
        name, so exporting again never duplicates a line. stdout: a one-line JSON summary. \
        With --hub, prepares instead the Hugging Face export folder (saving.hf_push.export_dir under \
        saving.output_dir) from the dataset file already written: the ShareGPT file, a dataset card, and \
        with saving.hf_push.generate_stats / generate_plots the stats JSON and SVG charts. It does not upload. \
        With --report, writes instead saving.output_dir/report.html, one self-contained page to look at a run \
        (its last run, --run-id, or the record files given). With saving.filters.* or --min-score / \
        --exclude-reasons, the completed dialogues that pass also go to conversations_sharegpt_filtered.jsonl.
        """)

    public init() {}

    @OptionGroup var common: CommonOptions

    @Argument(help: "Record files to read instead of stdin.")
    var files: [String] = []

    @Flag(help: "Prepare the Hugging Face export folder from the dataset file in saving.output_dir (no upload).")
    var hub = false

    @Flag(help: "With --hub: upload the export folder to saving.hf_push.repo_id on the Hugging Face Hub in one commit (token: HF_TOKEN, HUGGINGFACE_HUB_TOKEN or huggingface-cli's; HF_ENDPOINT).")
    var push = false

    @Flag(inversion: .prefixedNo, help: "With --hub: copy run_state/ into the export (default: saving.hf_push.include_run_state).")
    var includeRunState: Bool?

    @Option(help: "Export this run straight from the store: the database with store.backend: postgres (also writes coverage_ledger.jsonl from it), else run_state/<id>/journal.jsonl. With --report: the run to report on (default: run.run_id, else the last run).")
    var runID: String?

    @Flag(help: "Write saving.output_dir/report.html: the run's dialogues, judge verdicts and figures in one page.")
    var report = false

    @Option(help: "Quality filter: keep dialogues whose judge score is at least this (0-10); replaces saving.filters.min_judge_score.")
    var minScore: Double?

    @Option(help: "Quality filter: drop dialogues a judge verdict gives one of these reasons (comma-separated); replaces saving.filters.exclude_reasons.")
    var excludeReasons: String?

    public func validate() throws {
        if hub && !files.isEmpty { throw ValidationError("\"--hub\" reads the dataset file in saving.output_dir, not record files") }
        if runID != nil && (hub || !files.isEmpty) { throw ValidationError("\"--run-id\" reads the run from the store, not from files or --hub") }
        if let id = runID, let problem = SafeID.problem(id) { throw ValidationError("\"--run-id\" \(problem)") }
        if push && !hub { throw ValidationError("\"--push\" goes with \"--hub\"") }
        if !hub && includeRunState != nil { throw ValidationError("\"--include-run-state\" goes with \"--hub\"") }
        if hub && report { throw ValidationError("\"--hub\" and \"--report\" are separate runs of dlg-export") }
        if let s = minScore, !(0...10).contains(s) { throw ValidationError("\"--min-score\" must be from 0 to 10") }
    }

    public func run() async throws {
        try await ToolMain.run("dlg-export") {
            var settings = try common.settings()
            // The flags replace the config's filters, each on its own.
            if let minScore { settings.filters.minJudgeScore = minScore }
            if let excludeReasons {
                settings.filters.excludeReasons = excludeReasons.split(separator: ",")
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            }
            if let problem = settings.filters.problem(allowedReasons: settings.judge.reasons) {
                throw DlgError(.usage, "--min-score / --exclude-reasons: \(problem)")
            }
            if report {
                var bad = 0
                let done = try RunReport.build(settings: settings, runID: runID, files: files) { (path: String, number: Int, problem: String) throws(DlgError) in
                    bad += 1
                    StandardError.write("dlg-export: error: \(path):\(number): \(problem)")
                    if common.strict { throw DlgError.data("\(path):\(number): bad record") }
                }
                let out = FDWriter()
                try out.write(JSON.obj([
                    "report": .string(done.path), "dialogues": .int(done.dialogues), "completed": .int(done.completed),
                    "dropped": .int(done.dropped), "bytes": .int(done.bytes), "filters": done.filtered?.json ?? .null,
                ]).serialized() + "\n")
                try out.flush()
                return bad > 0 ? DlgError.Code.data.rawValue : 0
            }
            if hub {
                let done = try HubExport.prepare(settings: settings, includeRunState: includeRunState)
                var line: JSONObject = [
                    "export_dir": .string(done.exportDir), "source_file": .string(done.sourceFile), "records": .int(done.records),
                    "stats_file": done.statsFile.map { .string($0) } ?? .null, "plots": JSON(done.plots),
                ]
                if push {
                    let pushed = try await HubUpload.push(folder: done.exportDir, to: try HubUpload.target(settings: settings))
                    line["pushed"] = .obj(["repo_id": .string(pushed.repoID), "created": .bool(pushed.created),
                                           "files": .int(pushed.files), "lfs_files": .int(pushed.lfsFiles),
                                           "lfs_uploaded": .int(pushed.lfsUploaded), "bytes": .int(pushed.bytes),
                                           "commit_url": .string(pushed.commitURL)])
                }
                let out = FDWriter()
                try out.write(JSON.object(line).serialized() + "\n")
                try out.flush()
                return 0
            }
            if let runID {
                let summary = try StoredRuns.export(settings: settings, runID: runID)
                let out = FDWriter()
                try out.write(JSON.obj(["conversations": .int(summary.conversations), "turns": .int(summary.turns),
                                        "judged": .int(summary.judged), "output_dir": .string(settings.outputDir)]).serialized() + "\n")
                try out.flush()
                return 0
            }
            // Streamed: each record is exported as it is read, so a file of any size fits.
            let session = try ExportSession(settings: settings)
            session.knowledge = KnowledgeBase.inventoryKeys(settings: settings)
            var bad = 0
            let readers: [LineReader] = files.isEmpty ? [LineReader()] : try files.map { path in
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw DlgError(.noInput, "\(path): cannot open") }
                return LineReader(fd: fd, name: path)
            }
            let progress = WorkProgressLine(tool: "dlg-export")
            defer { progress?.ended() }
            for reader in readers {
                try session.add(from: reader, observer: progress) { (number: Int, problem: String) throws(DlgError) in
                    bad += 1
                    StandardError.write("dlg-export: error: \(reader.name):\(number): \(problem)")
                    if common.strict { throw DlgError.data("\(reader.name):\(number): bad record") }
                }
            }
            let summary = try session.finish()
            let out = FDWriter()
            try out.write(JSON.obj(["conversations": .int(summary.conversations), "turns": .int(summary.turns),
                                    "judged": .int(summary.judged), "output_dir": .string(settings.outputDir),
                                    "filters": summary.filtered.map { t in
                                        .obj(["settings": settings.filters.json, "kept": t.json["kept"] ?? 0,
                                              "removed": t.json["removed"] ?? .obj([:]), "file": .string(QualityFilters.fileName)])
                                    } ?? .null]).serialized() + "\n")
            try out.flush()
            return bad > 0 ? DlgError.Code.data.rawValue : 0
        }
    }
}
