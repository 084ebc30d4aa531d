// dlg-export report: report.html, one self-contained page to look at a run.

import ArgumentParser
import DlgCLI
import DlgCore

struct ExportReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write saving.output_dir/report.html: a run's dialogues, judge verdicts and figures in one page.",
        discussion: """
        The run is --run-id, else run.resume_run_id / run.run_id, else the last run; or the record files \
        given. --min-score / --exclude-reasons show which dialogues the quality filters would keep. A bad line \
        of a record file is reported and skipped (exit 65 at the end), or with --strict stops the report. \
        stdout: a one-line JSON summary.
        """)

    @OptionGroup var config: ConfigOptions

    @Argument(help: "Record files to report on instead of a run's state.")
    var files: [String] = []

    @Option(help: "The run to report on (default: run.resume_run_id, then run.run_id, else the last run).")
    var runID: String?

    @OptionGroup var filters: FilterOptions

    @Flag(name: .customLong(StageCommand.Flag.strict), help: "Stop at the first bad line of a record file.")
    var strict = false

    func validate() throws {
        if runID != nil && !files.isEmpty { throw ValidationError("\"--run-id\" and record files do not go together: the report is on one or the other") }
        try RunIDOptions.check(runID)
    }

    func run() async throws {
        try await ToolMain.run("dlg-export") {
            try Self.write(try filters.apply(to: try config.settings()), runID: runID, files: files, strict: strict)
        }
    }

    /// The page written; its summary on stdout; 65 when a record file had bad lines.
    static func write(_ settings: Settings, runID: String?, files: [String], strict: Bool) throws -> Int32 {
        var bad = 0
        let done = try RunReport.build(settings: settings, runID: runID, files: files) { (path: String, number: Int, problem: String) throws(DlgError) in
            bad += 1
            StandardError.write("dlg-export: error: \(path):\(number): \(problem)")
            if strict { throw DlgError.data("\(path):\(number): bad record") }
        }
        try printSummary(.obj([
            "report": .string(done.path), "dialogues": .int(done.dialogues), "completed": .int(done.completed),
            "dropped": .int(done.dropped), "bytes": .int(done.bytes), "filters": done.filtered?.json ?? .null,
        ]))
        return bad > 0 ? DlgError.Code.data.rawValue : 0
    }
}
