import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A question offered to the dedup store.
public struct DedupCandidate: Sendable {
    public var conversationID: String
    public var turnIndex: Int
    public var question: String
    /// The coverage-ledger line to store when accepted.
    public var ledgerEntry: JSONObject
    var key: String { "\(conversationID)#\(turnIndex)" }
}

/// Where accepted normalized questions live across processes and passes.
public protocol DedupStore: AnyObject {
    /// Decides candidates in order (the lowest slot wins a tie); accepted ones are committed.
    func filterAndCommit(_ candidates: [DedupCandidate]) throws(DlgError) -> [Bool]
}

/// The file store: `coverage_ledger.jsonl` itself. Each line is upstream's ledger entry plus
/// `conversation_id` and `turn_index`; the file is read incrementally under an exclusive lock, so
/// several dlg-dedup processes (or a resumed run beside an orphaned one) agree on what was accepted.
/// Idempotent: a question already accepted for the same (conversation_id, turn_index) is accepted again.
public final class FileDedupStore: DedupStore {
    let path: String
    private var fd: Int32 = -1
    private var offset: off_t = 0
    /// Normalized question -> the key (conversation and turn) it was accepted for, and key -> its
    /// normalized question, both as 128-bit digests (`Digest`): about 90 bytes per accepted question
    /// in the two tables, whatever the question's length (the two Strings per question took about
    /// 1.1 KB: 110 MB at 100,000 dialogues).
    private var acceptedBy: [Digest: Digest] = [:]
    private var questionOf: [Digest: Digest] = [:]

    /// The first 128 bits of the SHA-256 of a normalized question or a key. Two different texts
    /// share a digest with probability about n^2 / 2^129 among n texts: 1.5e-27 at a million
    /// accepted questions (a run would wrongly reject one question that often), far below the odds
    /// of a disk returning a wrong byte.
    struct Digest: Hashable {
        let high: UInt64
        let low: UInt64

        init(_ text: String) {
            let w = SHA256.words(Array(text.utf8))
            high = UInt64(w[0]) << 32 | UInt64(w[1])
            low = UInt64(w[2]) << 32 | UInt64(w[3])
        }
    }

    public init(path: String) throws(DlgError) {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try Files.makeDirectory(dir) }
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DlgError.io("\(path): cannot open the dedup store: \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Reads what other processes appended since the last look, in chunks of at most `chunkBytes` plus
    /// one line: a resumed run's ledger is streamed, not loaded whole.
    private func catchUp() throws(DlgError) {
        var st = stat()
        fstat(fd, &st)
        let size = st.st_size
        guard size > offset else { return }
        var carry: [UInt8] = []
        var position = offset
        var chunk = [UInt8](repeating: 0, count: Self.chunkBytes)
        while position < size {
            let want = min(chunk.count, Int(size - position))
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, position) }
            if n <= 0 { break }
            position += off_t(n)
            carry += chunk[..<n]
            guard let lastNewline = carry.lastIndex(of: 0x0A) else { continue }
            for line in carry[...lastNewline].split(separator: 0x0A) where !line.isEmpty { take(line) }
            offset += off_t(lastNewline + 1)
            carry.removeSubrange(...lastNewline)
        }
        // A line without its newline was torn by a killed writer: cut it off before anyone appends.
        if !carry.isEmpty { ftruncate(fd, offset) }
    }

    static let chunkBytes = 1 << 20

    private func take(_ line: ArraySlice<UInt8>) {
        guard let v = try? JSONCodec.parse(Array(line)), let q = v["question"]?.stringValue else { return }
        let norm = Text.normalized(q)
        let cid = v["conversation_id"]?.stringValue ?? ""
        let key = cid.isEmpty ? "ledger#\(norm)" : "\(cid)#\(v["turn_index"]?.intValue ?? 0)"
        remember(key: Digest(key), norm: Digest(norm))
    }

    private func remember(key: Digest, norm: Digest) {
        if let old = questionOf[key], old != norm, acceptedBy[old] == key { acceptedBy[old] = nil }
        questionOf[key] = norm
        if acceptedBy[norm] == nil { acceptedBy[norm] = key }
    }

    public func filterAndCommit(_ candidates: [DedupCandidate]) throws(DlgError) -> [Bool] {
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        try catchUp()
        var decisions: [Bool] = []
        var out: [UInt8] = []
        for c in candidates {
            let text = Text.normalized(c.question)
            if text.isEmpty { decisions.append(false); continue }
            let norm = Digest(text), key = Digest(c.key)
            if questionOf[key] == norm && acceptedBy[norm] == key { decisions.append(true); continue }
            if acceptedBy[norm] != nil { decisions.append(false); continue }
            remember(key: key, norm: norm)
            JSON.object(c.ledgerEntry).write(into: &out)
            out.append(0x0A)
            decisions.append(true)
        }
        if !out.isEmpty {
            var written = 0
            while written < out.count {
                let n = out.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 { if errno == EINTR { continue }; throw DlgError.io("\(path): write failed") }
                written += n
            }
            offset += off_t(out.count)
        }
        return decisions
    }
}
