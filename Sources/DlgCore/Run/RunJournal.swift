import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The checkpoint of a run: every state a dialogue reaches, appended as one JSONL line the moment
/// dlg-run sees it (a new dialogue, and each time it comes out of the stage loop). The latest line
/// of a conversation id is its state. A line is written with one write(2) of the whole line, so a
/// run killed at any moment leaves at most a torn last line, which the next open cuts off.
///
/// Only the dialogues `keep` selects (the unfinished ones) stay in memory as records; the others
/// are a fixed-size entry of the index (`DialogueIndex`), read back from the file when needed, so a
/// long run does not grow dlg-run. `counts` selects the slots the index's totals count.
public final class RunJournal {
    public let path: String
    private var fd: Int32
    private var size = 0
    public let index: DialogueIndex

    public init(path: String, keep: @escaping (JSONObject) -> Bool, counts: @escaping (Int) -> Bool = { _ in true }) throws(DlgError) {
        self.path = path
        index = DialogueIndex(keep: keep, counts: counts)
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DlgError.io("\(path): cannot open: \(String(cString: strerror(errno)))") }
        let reader = LineReader(fd: fd, name: path)
        let fileSize = Self.fileSize(fd)
        var offset = 0
        var complete = 0
        while let line = try reader.next() {
            let length = line.count + 1
            defer { offset += length }
            // The reader also returns a last line without its newline: that one was torn by a kill.
            guard offset + length <= fileSize else { break }
            complete = offset + length
            if line.isEmpty { continue }
            guard let r = (try? JSONCodec.parse(Array(line)))?.objectValue, !Record.id(r).isEmpty else {
                close(fd)
                throw DlgError.data("\(path):\(reader.lineNumber): checkpoint line is not a dialogue record; move the file away to start the run afresh")
            }
            do throws(DlgError) {
                try remember(r, offset: offset, length: length)
            } catch {
                close(fd)
                throw error
            }
        }
        if complete < fileSize {
            if ftruncate(fd, off_t(complete)) != 0 {
                close(fd)
                throw DlgError.io("\(path): cannot cut the torn last line: \(String(cString: strerror(errno)))")
            }
        }
        size = complete
    }

    deinit { close(fd) }

    static func fileSize(_ fd: Int32) -> Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : 0
    }

    private func remember(_ r: JSONObject, offset: Int, length: Int) throws(DlgError) {
        try index.remember(r, offset: offset, length: length) { (p: Int) throws(DlgError) in try self.record(at: p) }
    }


    /// Appends one state of a dialogue.
    public func append(_ r: JSONObject) throws(DlgError) {
        var bytes: [UInt8] = []
        JSON.object(r).write(into: &bytes)
        bytes.append(0x0A)
        try append(r, line: bytes)
    }

    /// Appends a state whose JSONL line (with its newline) is already at hand.
    public func append(_ r: JSONObject, line: [UInt8]) throws(DlgError) {
        // A known secret never reaches the checkpoint (nor the dataset built from it).
        let bytes = Redact.values(line)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        if n != bytes.count {
            let why = n < 0 ? String(cString: strerror(errno)) : "short write"
            throw DlgError.io("\(path): cannot append: \(why)")
        }
        let at = size
        size += bytes.count
        try remember(r, offset: at, length: bytes.count)
    }

    /// The latest line of a dialogue (with its newline), read back from the file.
    public func line(_ id: String) throws(DlgError) -> [UInt8] {
        guard let p = index.position(of: id) else { throw DlgError(.software, "\(path): no dialogue \(id)") }
        return try line(at: p)
    }

    /// The latest line of the dialogue at position `p` of the index.
    public func line(at p: Int) throws(DlgError) -> [UInt8] {
        let e = index.entries[p]
        let length = Int(e.length)
        var bytes = [UInt8](repeating: 0, count: length)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, length, off_t(e.offset)) }
        guard n == length, bytes.last == 0x0A else {
            throw DlgError.io("\(path): cannot read back the state of \(index.id(at: p)) at byte \(e.offset)")
        }
        return bytes
    }

    /// The latest state of a dialogue, from memory or read back from the file.
    public func record(_ id: String) throws(DlgError) -> JSONObject {
        if let r = held[id] { return r }
        guard let p = index.position(of: id) else { throw DlgError(.software, "\(path): no dialogue \(id)") }
        return try record(at: p)
    }

    /// The latest state of the dialogue at position `p`, read back from the file.
    public func record(at p: Int) throws(DlgError) -> JSONObject {
        let bytes = try line(at: p)
        guard let r = (try? JSONCodec.parse(Array(bytes.dropLast())))?.objectValue else {
            throw DlgError.io("\(path): the state of \(index.id(at: p)) does not read back as a record")
        }
        return r
    }

    /// Copies the latest lines of the dialogues at `positions` into `target` through a temporary
    /// name (fsynced, renamed).
    public func writeLatest(_ positions: [Int], to target: String) throws(DlgError) {
        var out = try PlacedLines(target)
        for p in positions { try out.write(try line(at: p)) }
        try out.commit()
    }

    /// Rewrites the journal with only the latest line of each dialogue, in first-seen order: the
    /// superseded states of a long run (one per turn per dialogue) go. Atomic by rename, so a kill
    /// leaves either the old journal or the new one; the index learns the new places once it is.
    public func compact() throws(DlgError) {
        guard lines > index.count else { return }
        var out = try PlacedLines(path)
        for p in 0..<index.count { try out.write(try line(at: p)) }
        try out.commit()
        let reopened = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard reopened >= 0 else { throw DlgError.io("\(path): cannot reopen after compacting: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = reopened
        // The lines are in the new file in index order, each as long as before.
        var offset = 0
        for p in 0..<index.count {
            index.move(p, offset: offset)
            offset += Int(index.entries[p].length)
        }
        size = out.size
        index.lines = index.count
    }
}
