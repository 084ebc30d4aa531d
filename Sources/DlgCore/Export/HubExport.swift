import Foundation

/// Upstream's Hugging Face export folder (`dlgforge push --no-push`): the ShareGPT file copied with
/// its reasoning premises normalised, optionally the run state, a dataset card (README.md), and with
/// `saving.hf_push.generate_stats` / `generate_plots` a stats JSON and four SVG bar charts. Uploading
/// the folder to the Hub is not done here. Where the folder may be and what an export replaces in it:
/// `HubExportFolder`.
public enum HubExport {
    public struct Summary: Sendable {
        public var exportDir: String
        public var sourceFile: String
        public var records: Int
        public var statsFile: String?
        public var plots: [String]
    }

    public static func prepare(settings: Settings, includeRunState: Bool? = nil) throws(DlgError) -> Summary {
        let hub = settings.saving.hfPush
        // Checked before anything is touched: the folder's last export is replaced.
        let folder = try HubExportFolder.resolve(settings: settings)
        let sourcePath = try sourceFile(settings: settings)
        let fileName = (sourcePath as NSString).lastPathComponent
        // Built beside the export folder, then moved in file by file: a failed export leaves the last one whole.
        let staging = folder.path + ".tmp.\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try Files.makeDirectory(staging)
        do throws(DlgError) {
            let stats = try copyRows(from: sourcePath, into: (staging as NSString).appendingPathComponent(fileName),
                                     settings: settings)
            if includeRunState ?? (hub["include_run_state"]?.boolValue ?? false) {
                let runState = settings.layout.stateRoot
                if Files.isDirectory(runState) {
                    do { try FileManager.default.copyItem(atPath: runState, toPath: (staging as NSString).appendingPathComponent(RunLayout.stateFolder)) }
                    catch { throw DlgError.io("\(runState): cannot copy into the export: \(error)") }
                }
            }
            let computed = stats.result(sourceFile: fileName)
            let (statsFile, plots) = try writeFigures(computed, hub: hub, into: staging)
            let card = DatasetCard.render(repoID: hub["repo_id"]?.stringValue ?? "", dataFile: fileName,
                                          records: stats.records, stats: computed,
                                          statsFile: statsFile, plots: plots, languages: stats.languageNames)
                + (BatchRunCost.lastRun(settings: settings)?.cardSection ?? "")
                + DatasetCard.metricsSection(ReportQuality.readMetrics(settings.layout.metricsPath))
            try Files.writeAtomically(card, to: (staging as NSString).appendingPathComponent("README.md"))
            try folder.replace(with: staging)
            try? FileManager.default.removeItem(atPath: staging)
            return Summary(exportDir: folder.path, sourceFile: sourcePath, records: stats.records, statsFile: statsFile, plots: plots)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    /// The dataset file to export (`saving.hf_push.source_file`); upstream prefers the judged file when
    /// the plain one is named and the judged one has data.
    static func sourceFile(settings: Settings) throws(DlgError) -> String {
        let layout = settings.layout
        var sourceName = settings.saving.hfPush["source_file"]?.stringValue ?? RunLayout.judgedFile
        if sourceName == RunLayout.sharegptFile, Self.nonEmpty(layout.output(RunLayout.judgedFile)) {
            sourceName = RunLayout.judgedFile
        }
        let sourcePath = sourceName.hasPrefix("/") ? sourceName : layout.output(sourceName)
        guard Files.exists(sourcePath) else {
            throw DlgError(.noInput, "\(sourcePath): no dataset file to export; run the generation or the export first (saving.hf_push.source_file)")
        }
        return sourcePath
    }

    /// Copies the source file's rows to `target` with their reasoning premises normalised, counting
    /// the stats on the way.
    static func copyRows(from sourcePath: String, into target: String, settings: Settings) throws(DlgError) -> DatasetStats.Accumulator {
        let reasoning = settings.saving.columns["assistant_reasoning"] ?? "assistant_reasoning"
        let fd = open(sourcePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DlgError(.noInput, "\(sourcePath): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let reader = LineReader(fd: fd, name: sourcePath)
        let file = try AtomicFile(target)
        var stats = DatasetStats.Accumulator(columns: settings.saving.columns)
        while let line = try reader.next() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard var row = (try? JSONCodec.parse(line))?.objectValue else {
                throw DlgError.data("\(sourcePath):\(reader.lineNumber): not a JSON object")
            }
            row[reasoning] = HubSanitize.reasoning(row[reasoning])
            // Written in pieces: a row is not held twice (tree and text) however big it is.
            var text = JSONChunks { (bytes) throws(DlgError) in try file.write(bytes) }
            JSON.object(row).write(to: &text)
            text.append(0x0A)
            try text.finish()
            stats.add(row)
        }
        try file.commit()
        return stats
    }

    /// With `generate_stats` the stats JSON, with `generate_plots` the four SVG bar charts: their names
    /// relative to the folder.
    static func writeFigures(_ computed: JSON, hub: JSON, into staging: String) throws(DlgError) -> (String?, [String]) {
        var statsFile: String?
        if hub["generate_stats"]?.boolValue == true {
            let name = hub["stats_file"]?.stringValue ?? RunLayout.hubStatsFile
            try Files.writeAtomically(computed.prettyBytes(), to: (staging as NSString).appendingPathComponent(name))
            statsFile = name
        }
        var plots: [String] = []
        if hub["generate_plots"]?.boolValue == true {
            let dir = hub["plots_dir"]?.stringValue ?? "plots"
            try Files.makeDirectory((staging as NSString).appendingPathComponent(dir))
            for (name, title, values) in DatasetStats.plotSeries(computed) {
                let rel = "\(dir)/\(name)"
                try Files.writeAtomically(SVGBarChart.render(title: title, bars: values),
                                          to: (staging as NSString).appendingPathComponent(rel), durable: false)
                plots.append(rel)
            }
        }
        return (statsFile, plots)
    }

    static func nonEmpty(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_size > 0
    }
}
