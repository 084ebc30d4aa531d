import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the run keeps in memory of a dialogue it does not hold: enough for the counts, the summary
/// and the run state, and where its latest line is in the journal.
public struct DialogueSummary: Sendable {
    public var id: String
    public var language: String
    public var slot: Int
    public var index: JSON
    public var status: RecordStatus
    public var dropReason: JSON
    public var turns: Int
    public var targetTurns: Int
    public var scores: [Double]
    public var usage: TokenUsage
    public var usageByAgent: [String: TokenUsage]
    var offset: Int
    var length: Int

    init(_ r: JSONObject, offset: Int, length: Int) {
        id = Record.id(r)
        language = Record.language(r)
        slot = r["slot"]?.intValue ?? r["index"]?.intValue ?? 0
        index = r["index"] ?? 0
        status = Record.status(r)
        dropReason = r["drop_reason"] ?? .null
        let t = Record.turns(r)
        turns = t.count
        targetTurns = Record.targetTurns(r)
        scores = t.compactMap { $0["qa_judge"]?["score"]?.doubleValue }
        if let s = r["conversation_judge"]?["score"]?.doubleValue { scores.append(s) }
        usage = TokenUsage(json: r["usage"])
        usageByAgent = TokenUsage.byAgent(r["usage"])
        self.offset = offset
        self.length = length
    }
}

/// The checkpoint of a run: every state a dialogue reaches, appended as one JSONL line the moment
/// dlg-run sees it (a new dialogue, and each time it comes out of the stage loop). The latest line
/// of a conversation id is its state. A line is written with one write(2) of the whole line, so a
/// run killed at any moment leaves at most a torn last line, which the next open cuts off.
///
/// Only the dialogues `keep` selects (the unfinished ones) stay in memory as records; the others
/// are summaries, read back from the file when needed, so a long run does not grow dlg-run.
public final class RunJournal {
    public let path: String
    private var fd: Int32
    private var size = 0
    private let keep: (JSONObject) -> Bool
    public private(set) var summaries: [String: DialogueSummary] = [:]
    public private(set) var order: [String] = []
    /// Latest state of the kept dialogues.
    public private(set) var held: [String: JSONObject] = [:]
    public private(set) var lines = 0

    public init(path: String, keep: @escaping (JSONObject) -> Bool) throws(DlgError) {
        self.path = path
        self.keep = keep
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
            remember(r, offset: offset, length: length)
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

    private func remember(_ r: JSONObject, offset: Int, length: Int) {
        let summary = DialogueSummary(r, offset: offset, length: length)
        if summaries.updateValue(summary, forKey: summary.id) == nil { order.append(summary.id) }
        held[summary.id] = keep(r) ? r : nil
        lines += 1
    }

    /// Appends one state of a dialogue.
    public func append(_ r: JSONObject) throws(DlgError) {
        var bytes: [UInt8] = []
        JSON.object(r).write(into: &bytes)
        bytes.append(0x0A)
        try append(r, line: bytes)
    }

    /// Appends a state whose JSONL line (with its newline) is already at hand.
    public func append(_ r: JSONObject, line bytes: [UInt8]) throws(DlgError) {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        if n != bytes.count {
            let why = n < 0 ? String(cString: strerror(errno)) : "short write"
            throw DlgError.io("\(path): cannot append: \(why)")
        }
        remember(r, offset: size, length: bytes.count)
        size += bytes.count
    }

    /// The latest line of a dialogue (with its newline), read back from the file.
    public func line(_ id: String) throws(DlgError) -> [UInt8] {
        guard let s = summaries[id] else { throw DlgError(.software, "\(path): no dialogue \(id)") }
        var bytes = [UInt8](repeating: 0, count: s.length)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, s.length, off_t(s.offset)) }
        guard n == s.length, bytes.last == 0x0A else {
            throw DlgError.io("\(path): cannot read back the state of \(id) at byte \(s.offset)")
        }
        return bytes
    }

    /// The latest state of a dialogue, from memory or read back from the file.
    public func record(_ id: String) throws(DlgError) -> JSONObject {
        if let r = held[id] { return r }
        let bytes = try line(id)
        guard let r = (try? JSONCodec.parse(Array(bytes.dropLast())))?.objectValue else {
            throw DlgError.io("\(path): the state of \(id) does not read back as a record")
        }
        return r
    }

    /// Copies the latest lines of `ids` into `target` through a temporary name (fsynced, renamed);
    /// returns each line's offset and length in the new file.
    @discardableResult
    public func writeLatest(_ ids: [String], to target: String) throws(DlgError) -> [(offset: Int, length: Int)] {
        var out = try PlacedLines(target, expected: ids.count)
        for id in ids { try out.write(try line(id)) }
        return try out.commit()
    }

    /// Rewrites the journal with only the latest line of each dialogue, in first-seen order: the
    /// superseded states of a long run (one per turn per dialogue) go. Atomic by rename, so a kill
    /// leaves either the old journal or the new one.
    public func compact() throws(DlgError) {
        guard lines > order.count else { return }
        let placed = try writeLatest(order, to: path)
        let reopened = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard reopened >= 0 else { throw DlgError.io("\(path): cannot reopen after compacting: \(String(cString: strerror(errno)))") }
        close(fd)
        fd = reopened
        for (id, p) in zip(order, placed) {
            summaries[id]?.offset = p.offset
            summaries[id]?.length = p.length
        }
        size = placed.last.map { $0.offset + $0.length } ?? 0
        lines = order.count
    }

    /// Every dialogue's summary, in first-seen order.
    public var allSummaries: [DialogueSummary] { order.compactMap { summaries[$0] } }
}
