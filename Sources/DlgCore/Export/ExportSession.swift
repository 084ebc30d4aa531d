import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What an export wrote.
public struct ExportSummary: Sendable {
    public var conversations = 0
    public var turns = 0
    public var judged = 0
    public var files: [String] = []
    /// What `saving.filters` kept and removed; nil when no filter is set.
    public var filtered: QualityFilters.Tally?
}

/// An export in progress: dialogues are added one at a time and their rows written through buffers
/// into temporary files, renamed over the dataset files by `finish()`, so a run of any size is
/// exported without holding it in memory and a reader never sees a half-written file.
public final class ExportSession {
    static let names = DatasetLines.names
    let settings: Settings
    let lines: DatasetLines
    var rows: DatasetRows { lines.rows }
    private var summary = ExportSummary()
    private var seen = Set<String>()
    private var files: [AtomicFile] = []
    private var metrics: MetricsFile
    /// Where topic diversity's embeddings come from (the run gives `retrieval.embedding_model` on
    /// kb_responder's endpoint; nil: the figure is null, with the reason).
    public var embedder: (any QuestionEmbedder)?
    /// Every chunk of the knowledge index as (source, chunk index), for `metrics.json`'s coverage
    /// (`KnowledgeBase.inventoryKeys`); nil leaves the coverage shares null.
    public var knowledge: [(source: String, chunkIndex: Int)]?

    /// `metrics.json`, beside the dataset files.
    public static let metricsFile = RunLayout.metricsFile

    public init(settings: Settings, embedder: (any QuestionEmbedder)? = nil) throws(DlgError) {
        self.settings = settings
        metrics = MetricsFile(settings: settings)
        self.embedder = embedder
        lines = try DatasetLines(settings: settings)
        let out = settings.outputDir
        // Each AtomicFile removes its temporary unless committed: an error on the way leaves the
        // dataset files as they were.
        for name in Self.names { files.append(try AtomicFile((out as NSString).appendingPathComponent(name))) }
        // The filtered file exists only while a filter is set: an old one would pass for current.
        let filtered = settings.layout.filteredPath
        if settings.filters.isActive {
            files.append(try AtomicFile(filtered))
            summary.filtered = QualityFilters.Tally()
            summary.filtered?.includesNear = settings.filters.nearDedupThreshold > 0
        } else {
            unlink(filtered)
        }
    }

    /// Adds one dialogue; anything but a completed one, or an id already added, is skipped.
    public func add(_ r: JSONObject) throws(DlgError) {
        let files = self.files
        guard let encoded = try lines.encode(r, seen: &seen, sink: { (i, bytes) throws(DlgError) in
            if i < files.count && !bytes.isEmpty { try files[i].write(bytes) }
        }) else { return }
        metrics.add(r)
        summary.conversations += 1
        summary.turns += encoded.turns
        if encoded.judged { summary.judged += 1 }
        if settings.filters.isActive { summary.filtered?.count(encoded.failedFilter) }
    }

    /// Adds every record of a JSONL file or stream. `onBadLine` hears about a line that is not a
    /// dialogue record (line number, what is wrong) and decides, by throwing or not, whether to go on.
    /// Returns how many records were read.
    @discardableResult
    public func add(from reader: LineReader, observer: (any WorkObserver)? = nil,
                    onBadLine: (Int, String) throws(DlgError) -> Void) throws(DlgError) -> Int {
        var records = 0
        while let line = try reader.next() {
            observer?.advanced(records, of: nil, "records read")
            if RecordCheck.isBlank(line) { continue }
            switch RecordCheck.parse(line) {
            case .success(let record):
                try add(record)
                records += 1
            case .failure(let problem): try onBadLine(reader.lineNumber, problem.description)
            }
        }
        return records
    }

    /// Puts every file in place, then `metrics.json` from the same dialogues. The files are then a
    /// whole export: the commit point of a run's appends (`DatasetAppend`) no longer describes them and goes.
    public func finish() async throws(DlgError) -> ExportSummary {
        for file in files {
            try file.commit()
            summary.files.append(file.path)
        }
        files = []
        let metricsPath = settings.layout.metricsPath
        let figures = await metrics.json(knowledge: knowledge, embedder: embedder)
        try Files.writeAtomically(figures.prettyBytes() + [0x0A], to: metricsPath)
        summary.files.append(metricsPath)
        unlink(DatasetAppend.statePath(settings))
        return summary
    }
}
