import Foundation

/// One completed dialogue as the bytes it adds to each dataset file (`DatasetLines.names`, then the
/// filtered file), its conversation file written on the way: what `ExportSession` (a whole export)
/// and `DatasetAppend` (a run's appends) both write, so the two cannot differ.
struct DatasetLines {
    static let names = ["synthetic_qa.jsonl", "turns.jsonl", "conversations_sharegpt.jsonl",
                        "conversations_sharegpt_judged.jsonl", "conversations_index.jsonl"]
    struct Encoded {
        /// One buffer per file of `names`, then the filtered file's.
        var bytes: [[UInt8]]
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

    /// The dialogue's lines, nil for anything but a completed dialogue or an id in `seen` (then added).
    func encode(_ r: JSONObject, seen: inout Set<String>) throws(DlgError) -> Encoded? {
        guard Record.status(r) == .completed else { return nil }
        let id = Record.id(r)
        guard seen.insert(id).inserted else { return nil }
        let rows = rows.rows(r)
        var synthetic: [UInt8] = [], turns: [UInt8] = [], sharegpt: [UInt8] = [], judged: [UInt8] = [], index: [UInt8] = []
        var filtered: [UInt8] = []
        rows.synthetic.write(into: &synthetic)
        synthetic.append(0x0A)
        for t in rows.turns {
            t.write(into: &turns)
            turns.append(0x0A)
        }
        rows.sharegpt.write(into: &sharegpt)
        sharegpt.append(0x0A)
        if let j = rows.judged {
            j.write(into: &judged)
            judged.append(0x0A)
        }
        var failed: QualityFilters.Filter?
        if settings.filters.isActive {
            // The dialogues that pass, with the judged file's columns.
            failed = settings.filters.failing(r)
            if failed == nil {
                var row = rows.judged ?? rows.sharegpt
                if rows.judged == nil { row[settings.saving.columns["judge"] ?? "judge"] = self.rows.judgeColumn(r) }
                row.write(into: &filtered)
                filtered.append(0x0A)
            }
        }
        let convPath = (convDir as NSString).appendingPathComponent("\(id).json")
        // Rebuilt from the run state at will: atomic, without an fsync per file.
        var text = rows.conversation.prettyBytes()
        text.append(0x0A)
        try Files.writeAtomically(text, to: convPath, durable: false)
        var row = rows.index
        row["conversation_file"] = .string(relativePath(convPath))
        JSON.object(row).write(into: &index)
        index.append(0x0A)
        return Encoded(bytes: [synthetic, turns, sharegpt, judged, index, filtered], turns: rows.turns.count,
                       judged: rows.judged != nil, failedFilter: failed)
    }

    /// A path under the project root as upstream writes it, relative to the root.
    func relativePath(_ path: String) -> String {
        let root = settings.projectRoot.hasSuffix("/") ? settings.projectRoot : settings.projectRoot + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : path
    }
}
