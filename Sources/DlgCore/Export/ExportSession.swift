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
    struct Buffers {
        var synthetic: [UInt8] = [], turns: [UInt8] = [], sharegpt: [UInt8] = [], judged: [UInt8] = [], index: [UInt8] = []
        var filtered: [UInt8] = []
    }
    static let names = ["synthetic_qa.jsonl", "turns.jsonl", "conversations_sharegpt.jsonl",
                        "conversations_sharegpt_judged.jsonl", "conversations_index.jsonl"]
    let settings: Settings
    let rows: DatasetRows
    let convDir: String
    private var summary = ExportSummary()
    private var seen = Set<String>()
    private var files: [AtomicFile] = []

    public init(settings: Settings) throws(DlgError) {
        self.settings = settings
        rows = DatasetRows(settings: settings)
        let out = settings.outputDir
        convDir = (out as NSString).appendingPathComponent("conversations")
        try Files.makeDirectory(convDir)
        Files.removeStaleTemporaries(in: out)
        Files.removeStaleTemporaries(in: convDir)
        // Each AtomicFile removes its temporary unless committed: an error on the way leaves the
        // dataset files as they were.
        for name in Self.names { files.append(try AtomicFile((out as NSString).appendingPathComponent(name))) }
        // The filtered file exists only while a filter is set: an old one would pass for current.
        let filtered = (out as NSString).appendingPathComponent(QualityFilters.fileName)
        if settings.filters.isActive {
            files.append(try AtomicFile(filtered))
            summary.filtered = QualityFilters.Tally()
        } else {
            unlink(filtered)
        }
    }

    /// Adds one dialogue; anything but a completed one, or an id already added, is skipped.
    public func add(_ r: JSONObject) throws(DlgError) {
        guard Record.status(r) == .completed else { return }
        let id = Record.id(r)
        guard seen.insert(id).inserted else { return }
        let rows = rows.rows(r)
        // The dialogue's rows go straight to the files, which buffer their writes.
        var buffers = Buffers()
        rows.synthetic.write(into: &buffers.synthetic)
        buffers.synthetic.append(0x0A)
        for t in rows.turns {
            t.write(into: &buffers.turns)
            buffers.turns.append(0x0A)
        }
        rows.sharegpt.write(into: &buffers.sharegpt)
        buffers.sharegpt.append(0x0A)
        if let judged = rows.judged {
            judged.write(into: &buffers.judged)
            buffers.judged.append(0x0A)
            summary.judged += 1
        }
        if settings.filters.isActive {
            // The dialogues that pass, with the judged file's columns.
            let failed = settings.filters.failing(r)
            summary.filtered?.count(failed)
            if failed == nil {
                var row = rows.judged ?? rows.sharegpt
                if rows.judged == nil { row[settings.saving.columns["judge"] ?? "judge"] = self.rows.judgeColumn(r) }
                row.write(into: &buffers.filtered)
                buffers.filtered.append(0x0A)
            }
        }
        let convPath = (convDir as NSString).appendingPathComponent("\(id).json")
        // Rebuilt from the run state at will: atomic, without an fsync per file.
        var text = rows.conversation.prettyBytes()
        text.append(0x0A)
        try Files.writeAtomically(text, to: convPath, durable: false)
        var index = rows.index
        index["conversation_file"] = .string(relativePath(convPath))
        JSON.object(index).write(into: &buffers.index)
        buffers.index.append(0x0A)
        summary.conversations += 1
        summary.turns += rows.turns.count
        for (file, bytes) in zip(files, [buffers.synthetic, buffers.turns, buffers.sharegpt, buffers.judged, buffers.index,
                                         buffers.filtered])
        where !bytes.isEmpty {
            try file.write(bytes)
        }
    }

    /// A path under the project root as upstream writes it, relative to the root.
    func relativePath(_ path: String) -> String {
        let root = settings.projectRoot.hasSuffix("/") ? settings.projectRoot : settings.projectRoot + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
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
            switch RecordCheck.parse(Array(line)) {
            case .success(let record):
                try add(record)
                records += 1
            case .failure(let problem): try onBadLine(reader.lineNumber, problem.description)
            }
        }
        return records
    }

    /// Puts every file in place.
    public func finish() throws(DlgError) -> ExportSummary {
        for file in files {
            try file.commit()
            summary.files.append(file.path)
        }
        files = []
        return summary
    }
}
