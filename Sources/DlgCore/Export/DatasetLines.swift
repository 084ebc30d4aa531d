import Foundation

/// One completed dialogue as the bytes it adds to each dataset file (`DatasetLines.names`, then the
/// filtered file), its conversation file written on the way: what `ExportSession` (a whole export)
/// and `DatasetAppend` (a run's appends) both write, so the two cannot differ.
struct DatasetLines {
    static let names = ["synthetic_qa.jsonl", "turns.jsonl", "conversations_sharegpt.jsonl",
                        "conversations_sharegpt_judged.jsonl", "conversations_index.jsonl"]
    struct Encoded {
        var turns: Int
        var judged: Bool
        /// The filter that failed; nil when it passed or no filter is set.
        var failedFilter: QualityFilters.Filter?
    }
    let settings: Settings
    let rows: DatasetRows
    let convDir: String

    init(settings: Settings) throws(DlgError) {
        self.settings = settings
        rows = DatasetRows(settings: settings)
        let out = settings.outputDir
        convDir = (out as NSString).appendingPathComponent("conversations")
        try Files.makeDirectory(convDir)
        Files.removeStaleTemporaries(in: out)
        Files.removeStaleTemporaries(in: convDir)
    }

    /// Hands the dialogue's lines to `sink` one file at a time (`names` index, then `names.count` for the
    /// filtered file), each buffer released once handed over: a dialogue of 100 MB holds one file's
    /// bytes at a time, not every file's. Returns nil, handing nothing, for anything but a completed
    /// dialogue or an id in `seen` (then added).
    func encode(_ r: JSONObject, seen: inout Set<String>,
                sink: (Int, [UInt8]) throws(DlgError) -> Void) throws(DlgError) -> Encoded? {
        guard Record.status(r) == .completed else { return nil }
        let id = Record.id(r)
        guard seen.insert(id).inserted else { return nil }
        var rows = Optional(self.rows.rows(r))
        func line(_ value: JSON) -> [UInt8] {
            var bytes: [UInt8] = []
            value.write(into: &bytes)
            bytes.append(0x0A)
            return bytes
        }
        try sink(0, line(rows!.synthetic))
        var turns: [UInt8] = []
        for t in rows!.turns {
            t.write(into: &turns)
            turns.append(0x0A)
        }
        let turnCount = rows!.turns.count
        try sink(1, turns)
        turns = []
        try sink(2, line(rows!.sharegpt))
        let judged = rows!.judged != nil
        if let j = rows!.judged { try sink(3, line(j)) }
        var failed: QualityFilters.Filter?
        if settings.filters.isActive {
            // The dialogues that pass, with the judged file's columns.
            failed = settings.filters.failing(r)
            if failed == nil {
                var row = rows!.judged ?? rows!.sharegpt
                if rows!.judged == nil { row[settings.saving.columns["judge"] ?? "judge"] = self.rows.judgeColumn(r) }
                try sink(Self.names.count, line(row))
            }
        }
        let convPath = (convDir as NSString).appendingPathComponent("\(id).json")
        var index = rows!.index
        let conversation = rows!.conversation
        rows = nil
        // Rebuilt from the run state at will: atomic, without an fsync per file.
        var text = conversation.prettyBytes()
        text.append(0x0A)
        try Files.writeAtomically(text, to: convPath, durable: false)
        text = []
        index["conversation_file"] = .string(relativePath(convPath))
        try sink(4, line(.object(index)))
        return Encoded(turns: turnCount, judged: judged, failedFilter: failed)
    }

    /// A path under the project root as upstream writes it, relative to the root.
    func relativePath(_ path: String) -> String {
        let root = settings.projectRoot.hasSuffix("/") ? settings.projectRoot : settings.projectRoot + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }
}
