import ArgumentParser
import Foundation
import DlgCLI
import DlgCore

@main
struct DlgExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg-export",
        abstract: "Write the dataset files from finished dialogue records.",
        discussion: """
        stdin: dialogue records (JSONL), or the files given as arguments. Writes, under saving.output_dir: \
        synthetic_qa.jsonl, turns.jsonl, conversations_sharegpt.jsonl, conversations_sharegpt_judged.jsonl, \
        conversations_index.jsonl and conversations/<conversation_id>.json, from the completed dialogues \
        only (dropped and unfinished ones are left out). Each file is rewritten whole through a temporary \
        name, so exporting again never duplicates a line. stdout: a one-line JSON summary. \
        With --hub, prepares instead the Hugging Face export folder (saving.hf_push.export_dir under \
        saving.output_dir) from the dataset file already written: the ShareGPT file, a dataset card, and \
        with saving.hf_push.generate_stats / generate_plots the stats JSON and SVG charts. It does not upload.
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "Record files to read instead of stdin.")
    var files: [String] = []

    @Flag(help: "Prepare the Hugging Face export folder from the dataset file in saving.output_dir (no upload).")
    var hub = false

    @Flag(inversion: .prefixedNo, help: "With --hub: copy run_state/ into the export (default: saving.hf_push.include_run_state).")
    var includeRunState: Bool?

    @Option(help: "Export this run straight from the store: the database with store.backend: postgres (also writes coverage_ledger.jsonl from it), else run_state/<id>/journal.jsonl.")
    var runID: String?

    func validate() throws {
        if hub && !files.isEmpty { throw ValidationError("\"--hub\" reads the dataset file in saving.output_dir, not record files") }
        if runID != nil && (hub || !files.isEmpty) { throw ValidationError("\"--run-id\" reads the run from the store, not from files or --hub") }
        if let id = runID, let problem = SafeID.problem(id) { throw ValidationError("\"--run-id\" \(problem)") }
        if !hub && includeRunState != nil { throw ValidationError("\"--include-run-state\" goes with \"--hub\"") }
    }

    func run() async throws {
        try await ToolMain.run("dlg-export") {
            let settings = try common.settings()
            if hub {
                let done = try HubExport.prepare(settings: settings, includeRunState: includeRunState)
                let out = FDWriter()
                try out.write(JSON.obj([
                    "export_dir": .string(done.exportDir), "source_file": .string(done.sourceFile), "records": .int(done.records),
                    "stats_file": done.statsFile.map { .string($0) } ?? .null, "plots": JSON(done.plots),
                ]).serialized() + "\n")
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
                                    "judged": .int(summary.judged), "output_dir": .string(settings.outputDir)]).serialized() + "\n")
            try out.flush()
            return bad > 0 ? DlgError.Code.data.rawValue : 0
        }
    }
}
