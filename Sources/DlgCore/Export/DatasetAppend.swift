import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The dataset files kept current during a run by appending the dialogues completed since the last
/// checkpoint, so a checkpoint costs what the new dialogues cost, not what the run holds so far.
///
/// The commit point is `<output_dir>/run_state/dataset_commit.json`: the run id and the byte size of
/// each file after the last commit. A commit writes the new rows, fsyncs every file, then replaces the
/// state file (fsynced, renamed). Opening again for the same run cuts every file back to its committed
/// size, so rows appended after the last commit (a run killed between the two) are never doubled, and
/// learns which dialogues the files hold by streaming `conversations_index.jsonl`. Any other state (none,
/// another run's, files shorter than committed, another filter setting) starts the files afresh.
///
/// Rows are in the order dialogues completed; the run's end writes the files whole once, in run order
/// (`ExportSession`, which then removes the commit point), so the final files are those of a whole export.
public final class DatasetAppend {
    /// Where the commit point of `settings`' output folder lives.
    public static func statePath(_ settings: Settings) -> String { settings.layout.datasetCommitPath }

    let settings: Settings
    let runID: String
    private let lines: DatasetLines
    private let paths: [String]
    private var fds: [Int32] = []
    private var committed: [Int]
    /// Bytes appended past the commit point (written, not yet fsynced and committed).
    private var uncommitted: [Int]
    /// Rows not yet written: each file's buffer is written once it holds `writeThrough` bytes, so the
    /// rows of a checkpoint's dialogues (100 MB in 30 s of a fast run) are not all held at once.
    private var pending: [[UInt8]]
    static let writeThrough = 1 << 20
    private var seen = Set<String>()
    /// Dialogues the files hold once the pending ones are committed.
    public private(set) var dialogues = 0
    /// Dialogues added since the last commit.
    public private(set) var pendingDialogues = 0

    public init(settings: Settings, runID: String) throws(DlgError) {
        self.settings = settings
        self.runID = runID
        lines = try DatasetLines(settings: settings)
        var paths = DatasetLines.names.map(settings.layout.output)
        let filtered = settings.layout.filteredPath
        if settings.filters.isActive { paths.append(filtered) } else { unlink(filtered) }
        self.paths = paths
        pending = Array(repeating: [], count: paths.count)
        committed = Array(repeating: 0, count: paths.count)
        uncommitted = Array(repeating: 0, count: paths.count)
        let statePath = Self.statePath(settings)
        try Files.makePrivateDirectory((statePath as NSString).deletingLastPathComponent)
        var resumed = false
        if let state = try? JSONCodec.parse(Files.read(statePath)), state["run_id"]?.stringValue == runID,
           state["filtered"]?.boolValue == settings.filters.isActive,
           let sizes = state["sizes"]?.arrayValue?.compactMap(\.intValue), sizes.count == paths.count,
           zip(paths, sizes).allSatisfy({ Self.size($0) >= $1 }) {
            committed = sizes
            dialogues = state["dialogues"]?.intValue ?? 0
            resumed = true
        } else {
            // The commit point first: a kill between it and the truncation leaves a state that says 0.
            try writeState()
        }
        for (path, size) in zip(paths, committed) {
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw DlgError.io("\(path): cannot open: \(String(cString: strerror(errno)))") }
            fds.append(fd)
            guard ftruncate(fd, off_t(size)) == 0, lseek(fd, off_t(size), SEEK_SET) == off_t(size) else {
                throw DlgError.io("\(path): cannot cut back to the committed \(size) bytes: \(String(cString: strerror(errno)))")
            }
        }
        if resumed { try readCommittedIDs() }
    }

    deinit { for fd in fds { close(fd) } }

    static func size(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : -1
    }

    /// The ids in the committed index file, streamed: memory for the ids, not for the file.
    private func readCommittedIDs() throws(DlgError) {
        let indexPath = paths[DatasetLines.names.firstIndex(of: RunLayout.indexFile)!]
        let fd = open(indexPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DlgError.io("\(indexPath): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let reader = LineReader(fd: fd, name: indexPath)
        while let line = try reader.next() {
            if RecordCheck.isBlank(line) { continue }
            guard let cid = (try? JSONCodec.parse(Array(line)))?["conversation_id"]?.stringValue else {
                throw DlgError.data("\(indexPath):\(reader.lineNumber): conversation_id: not a dataset index row; remove \(Self.statePath(settings)) to write the files afresh")
            }
            seen.insert(cid)
        }
    }

    /// Whether the files hold (or will at the next commit) the dialogue.
    public func holds(_ id: String) -> Bool { seen.contains(id) }

    /// Adds a dialogue's rows to the next commit; anything but a completed dialogue, or one the files
    /// already hold, is skipped.
    public func add(_ r: JSONObject) throws(DlgError) {
        guard try lines.encode(r, seen: &seen, sink: { (i, bytes) throws(DlgError) in
            guard i < self.paths.count else { return }
            self.pending[i] += bytes
            if self.pending[i].count >= Self.writeThrough { try self.writePending(i) }
        }) != nil else { return }
        pendingDialogues += 1
    }

    private func writePending(_ i: Int) throws(DlgError) {
        var written = 0
        while written < pending[i].count {
            let n = pending[i].withUnsafeBytes { Glibc.write(fds[i], $0.baseAddress! + written, $0.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DlgError.io("\(paths[i]): cannot append: \(String(cString: strerror(errno)))")
            }
            written += n
        }
        uncommitted[i] += pending[i].count
        pending[i].removeAll(keepingCapacity: true)
    }

    /// Appends what was added, fsyncs every file, then moves the commit point past it.
    public func commit() throws(DlgError) {
        guard pendingDialogues > 0 else { return }
        for i in paths.indices where !pending[i].isEmpty { try writePending(i) }
        for i in paths.indices where uncommitted[i] > 0 {
            guard fsync(fds[i]) == 0 else { throw DlgError.io("\(paths[i]): fsync failed: \(String(cString: strerror(errno)))") }
            committed[i] += uncommitted[i]
            uncommitted[i] = 0
        }
        dialogues += pendingDialogues
        pendingDialogues = 0
        try writeState()
    }

    private func writeState() throws(DlgError) {
        let state = JSON.obj([
            "run_id": .string(runID), "filtered": .bool(settings.filters.isActive), "dialogues": .int(dialogues),
            "files": JSON.array(paths.map { .string(($0 as NSString).lastPathComponent) }),
            "sizes": JSON.array(committed.map { .int($0) }),
        ])
        try Files.writeAtomically(Array((state.serialized() + "\n").utf8), to: Self.statePath(settings))
    }
}
