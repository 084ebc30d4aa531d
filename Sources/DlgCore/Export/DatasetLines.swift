import Foundation

/// One completed dialogue as the bytes it adds to each dataset file (`DatasetLines.names`, then the
/// filtered file), its conversation file written on the way: what `ExportSession` (a whole export)
/// and `DatasetAppend` (a run's appends) both write, so the two cannot differ.
struct DatasetLines {
    static let names = RunLayout.datasetFiles
    struct Encoded {
        var turns: Int
        var judged: Bool
        /// The filter that failed; nil when it passed or no filter is set.
        var failedFilter: QualityFilters.Filter?
    }
    let settings: Settings
    let rows: DatasetRows
    let convDir: String
    /// `saving.filters.near_dedup_threshold`'s memory of the kept dialogues' questions (nil: off).
    let nearFilter: NearDuplicateFilter?

    init(settings: Settings) throws(DlgError) {
        self.settings = settings
        nearFilter = settings.filters.nearDedupThreshold > 0 ? NearDuplicateFilter(threshold: settings.filters.nearDedupThreshold) : nil
        rows = DatasetRows(settings: settings)
        let out = settings.outputDir
        convDir = settings.layout.conversationsDir
        try Files.makeDirectory(convDir)
        Files.removeStaleTemporaries(in: out)
        Files.removeStaleTemporaries(in: convDir)
    }

    /// Hands the dialogue's lines to `sink` one file at a time (`names` index, then `names.count` for the
    /// filtered file), in pieces of at most `chunkBytes` (a file's lines may come in several calls, a
    /// small dialogue's in one): the lines are written from the rows as they are serialized, so a
    /// dialogue of 100 MB (whose rows repeat its answer in several columns) takes a piece's memory to
    /// write, not a line's. Returns nil, handing nothing, for anything but a completed dialogue or an
    /// id in `seen` (then added).
    func encode(_ r: JSONObject, seen: inout Set<String>,
                sink: @escaping (Int, [UInt8]) throws(DlgError) -> Void) throws(DlgError) -> Encoded? {
        guard Record.status(r) == .completed else { return nil }
        let id = Record.id(r)
        guard seen.insert(id).inserted else { return nil }
        let rows = self.rows.rows(r)
        func put(_ file: Int, _ values: [JSON]) throws(DlgError) {
            var out = JSONChunks(limit: Self.chunkBytes) { (bytes) throws(DlgError) in try sink(file, bytes) }
            for value in values {
                value.write(to: &out)
                out.append(0x0A)
            }
            try out.finish()
        }
        try put(0, [rows.synthetic])
        try put(1, rows.turns)
        try put(2, [rows.sharegpt])
        if let j = rows.judged { try put(3, [j]) }
        var failed: QualityFilters.Filter?
        if settings.filters.isActive {
            // The dialogues that pass, with the judged file's columns.
            failed = settings.filters.failing(r)
            if failed == nil, let nearFilter, !nearFilter.admit(r) { failed = .nearDuplicate }
            if failed == nil {
                var row = rows.judged ?? rows.sharegpt
                if rows.judged == nil { row[settings.saving.columns["judge"] ?? "judge"] = self.rows.judgeColumn(r) }
                try put(Self.names.count, [row])
            }
        }
        let convPath = try settings.layout.conversationFile(id)
        // Rebuilt from the run state at will: atomic, without an fsync per file.
        try Files.makeDirectory(convDir)
        let file = try AtomicFile(convPath)
        var text = JSONChunks(limit: Self.chunkBytes) { (bytes) throws(DlgError) in try file.write(bytes) }
        rows.conversation.writePretty(to: &text)
        text.append(0x0A)
        try text.finish()
        try file.commit(durable: false)
        var index = rows.index
        index["conversation_file"] = .string(relativePath(convPath))
        try put(4, [.object(index)])
        return Encoded(turns: rows.turns.count, judged: rows.judged != nil, failedFilter: failed)
    }

    /// The most bytes handed to a sink at once.
    static let chunkBytes = 1 << 18

    /// A path under the project root as upstream writes it, relative to the root.
    func relativePath(_ path: String) -> String {
        let root = settings.projectRoot.hasSuffix("/") ? settings.projectRoot : settings.projectRoot + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }
}
