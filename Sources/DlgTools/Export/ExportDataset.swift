// dlg-export dataset (the default subcommand): the dataset files from record files, stdin or a run's store.

import ArgumentParser
import DlgCLI
import DlgCore
import Foundation

/// The flags dlg-export had before its subcommands, kept as aliases of `hub` and `report` (hidden from
/// the help; the Makefile of older checkouts, scripts and people's habits still call them).
struct LegacyExportFlags: ParsableArguments {
    @Flag(help: "Alias of dlg-export hub.")
    var hub = false

    @Flag(help: "Alias of dlg-export hub --push (with --hub).")
    var push = false

    @Flag(inversion: .prefixedNo, help: "With --hub: alias of dlg-export hub --include-run-state.")
    var includeRunState: Bool?

    @Flag(help: "Alias of dlg-export report.")
    var report = false
}

struct ExportDataset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Write the dataset files from finished dialogue records (the default subcommand).",
        discussion: """
        stdin: dialogue records (JSONL), or the files given as arguments, or with --run-id a run straight from \
        its store. Writes, under saving.output_dir: synthetic_qa.jsonl, turns.jsonl, \
        conversations_sharegpt.jsonl, conversations_sharegpt_judged.jsonl, conversations_index.jsonl and \
        conversations/<conversation_id>.json, from the completed dialogues only (dropped and unfinished ones \
        are left out), and metrics.json, their figures (docs/metrics.md). Each file is rewritten whole through \
        a temporary name, so exporting again never duplicates a line. With saving.filters.* or --min-score / \
        --exclude-reasons, the completed dialogues that pass also go to conversations_sharegpt_filtered.jsonl. \
        stdout: a one-line JSON summary.
        """)

    @OptionGroup var common: CommonOptions

    @Argument(help: "Record files to read instead of stdin.")
    var files: [String] = []

    @Option(help: "Export this run straight from the store: the database with store.backend: postgres (also writes coverage_ledger.jsonl from it), else run_state/<id>/journal.jsonl.")
    var runID: String?

    @OptionGroup var filters: FilterOptions

    @OptionGroup(visibility: .hidden) var legacy: LegacyExportFlags

    func validate() throws {
        if legacy.hub && !files.isEmpty { throw ValidationError("\"--hub\" reads the dataset file in saving.output_dir, not record files") }
        if runID != nil && (legacy.hub || !files.isEmpty) { throw ValidationError("\"--run-id\" reads the run from the store, not from files or --hub") }
        try RunIDOptions.check(runID)
        if legacy.push && !legacy.hub { throw ValidationError("\"--push\" goes with \"--hub\"") }
        if !legacy.hub && legacy.includeRunState != nil { throw ValidationError("\"--include-run-state\" goes with \"--hub\"") }
        if legacy.hub && legacy.report { throw ValidationError("\"--hub\" and \"--report\" are separate runs of dlg-export") }
        // `dlg-export -c config.yaml report`: a subcommand named after an option reads as a file.
        for name in files where DlgExport.subcommandNames.contains(name) && !FileManager.default.fileExists(atPath: name) {
            throw ValidationError("\"\(name)\" is a subcommand of dlg-export: name it first (dlg-export \(name) -c FILE ...), or give ./\(name) for a file")
        }
    }

    func run() async throws {
        try await ToolMain.run("dlg-export") {
            let settings = try filters.apply(to: try common.settings())
            if legacy.report {
                return try ExportReport.write(settings, runID: runID, files: files, strict: common.strict)
            }
            if legacy.hub {
                return try await ExportHub.prepare(settings, includeRunState: legacy.includeRunState, push: legacy.push)
            }
            if let runID { return try await Self.exportRun(settings, runID: runID) }
            return try await Self.exportRecords(settings, files: files, strict: common.strict)
        }
    }

    /// `--run-id`: the run's completed dialogues from its store.
    static func exportRun(_ settings: Settings, runID: String) async throws -> Int32 {
        let summary = try await StoredRuns.export(settings: settings, runID: runID)
        try printSummary(.obj(["conversations": .int(summary.conversations), "turns": .int(summary.turns),
                               "judged": .int(summary.judged), "output_dir": .string(settings.outputDir)]))
        return 0
    }

    /// Record files or stdin, streamed: each record is exported as it is read, so a file of any size fits.
    static func exportRecords(_ settings: Settings, files: [String], strict: Bool) async throws -> Int32 {
        let session = try ExportSession(settings: settings, embedder: EndpointQuestionEmbedder.forRetrieval(settings))
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
                if strict { throw DlgError.data("\(reader.name):\(number): bad record") }
            }
        }
        let summary = try await session.finish()
        let filtered: JSON = summary.filtered.map { t in
            .obj(["settings": settings.filters.json, "kept": t.json["kept"] ?? 0,
                  "removed": t.json["removed"] ?? .obj([:]), "file": .string(QualityFilters.fileName)])
        } ?? .null
        try printSummary(.obj(["conversations": .int(summary.conversations), "turns": .int(summary.turns),
                               "judged": .int(summary.judged), "output_dir": .string(settings.outputDir),
                               "filters": filtered]))
        return bad > 0 ? DlgError.Code.data.rawValue : 0
    }
}
