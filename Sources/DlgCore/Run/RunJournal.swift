import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The checkpoint of a run: every state a dialogue reaches, appended as one JSONL line the moment
/// dlg-run sees it (a new dialogue, and each time it comes out of the stage loop). The latest line
/// of a conversation id is its state. A line is written with one write(2) of the whole line, so a
/// run killed at any moment leaves at most a torn last line, which the next open cuts off.
public final class RunJournal {
    public let path: String
    private let fd: Int32
    /// Latest state per conversation id, and the ids in the order they first appeared.
    public private(set) var latest: [String: JSONObject] = [:]
    public private(set) var order: [String] = []
    public private(set) var lines = 0

    public init(path: String) throws(DlgError) {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DlgError.io("\(path): cannot open: \(String(cString: strerror(errno)))") }
        let bytes = try Files.read(path)
        var start = 0
        var lineNumber = 0
        while let nl = bytes[start...].firstIndex(of: 0x0A) {
            lineNumber += 1
            let line = bytes[start..<nl]
            start = nl + 1
            if line.isEmpty { continue }
            guard let r = (try? JSONCodec.parse(Array(line)))?.objectValue, !Record.id(r).isEmpty else {
                close(fd)
                throw DlgError.data("\(path):\(lineNumber): checkpoint line is not a dialogue record; move the file away to start the run afresh")
            }
            remember(r)
        }
        if start < bytes.count {
            // The last line was torn by a kill: it never happened.
            if ftruncate(fd, off_t(start)) != 0 {
                close(fd)
                throw DlgError.io("\(path): cannot cut the torn last line: \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit { close(fd) }

    private func remember(_ r: JSONObject) {
        let id = Record.id(r)
        if latest.updateValue(r, forKey: id) == nil { order.append(id) }
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
        remember(r)
    }

    /// The latest states in first-seen order.
    public var records: [JSONObject] { order.compactMap { latest[$0] } }
}
