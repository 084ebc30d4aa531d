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

/// What the store said of a candidate.
public enum DedupDecision: Sendable, Equatable {
    case accepted
    /// The same normalized question was accepted before (or earlier in the batch).
    case duplicate
    /// An accepted question's shingle set is this similar (Jaccard, at or above the threshold);
    /// `of` is its id: the ledger's `question_hash` (the first 16 hex digits of the SHA-256 of the
    /// normalized question).
    case nearDuplicate(of: String, similarity: Double)
    /// An accepted question's embedding is this close (cosine, at or above
    /// `coverage.semantic_dedup_threshold`); `of` is its `question_hash`.
    case semanticDuplicate(of: String, similarity: Double)

    public var isAccepted: Bool { self == .accepted }
}

/// Where accepted normalized questions live across processes and passes.
public protocol DedupStore: AnyObject {
    /// Decides candidates in order (the lowest slot wins a tie); accepted ones are committed.
    func decide(_ candidates: [DedupCandidate]) throws(DlgError) -> [DedupDecision]
    /// Where dlg-dedup writes its rejections (`StoreFactory` sets it; nil: nowhere).
    var rejectionLog: DedupRejectionLog? { get }
    /// The text of each question the last `decide` named as a near or semantic match, by its
    /// `question_hash` (for the rejections file, which the report shows).
    var matchTexts: [String: String] { get }
}

extension DedupStore {
    public var rejectionLog: DedupRejectionLog? { nil }
    public var matchTexts: [String: String] { [:] }
}

extension DedupStore {
    /// Whether each candidate was accepted.
    public func filterAndCommit(_ candidates: [DedupCandidate]) throws(DlgError) -> [Bool] {
        try decide(candidates).map(\.isAccepted)
    }
}

/// A question's id in logs: the ledger's `question_hash`.
func questionHash(_ normalized: String) -> String { String(SHA256.hex(normalized).prefix(16)) }

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
    /// The accepted questions' shingle sets, each known by where its ledger line starts (8 bytes: its
    /// text and digest are read back from the line on the rare candidate at the threshold); nil:
    /// near dedup off.
    private var near: NearIndex<Int64>?
    public var rejectionLog: DedupRejectionLog?
    public private(set) var matchTexts: [String: String] = [:]
    /// The accepted questions' vectors (nil: semantic dedup off; Store/SemanticLedger.swift).
    private var semantic: SemanticLedger?

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

        /// The first 64 bits in hex: the ledger's `question_hash` of a normalized question.
        var hex: String {
            let s = String(high, radix: 16)
            return String(repeating: "0", count: 16 - s.count) + s
        }
    }

    /// `nearThreshold`: `coverage.near_dedup_threshold` (0: exact dedup only); `semantic`:
    /// `coverage.semantic_dedup_threshold` and its embedder (nil: off).
    public init(path: String, nearThreshold: Double = 0, semantic: SemanticDedup? = nil) throws(DlgError) {
        self.path = path
        if nearThreshold > 0 { near = NearIndex(threshold: nearThreshold) }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try Files.makeDirectory(dir) }
        if let semantic { self.semantic = try SemanticLedger(ledgerPath: path, semantic: semantic) }
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
            for line in carry[...lastNewline].split(separator: 0x0A) where !line.isEmpty {
                take(line, at: Int64(offset) + Int64(line.startIndex))
            }
            offset += off_t(lastNewline + 1)
            carry.removeSubrange(...lastNewline)
        }
        // A line without its newline was torn by a killed writer: cut it off before anyone appends.
        if !carry.isEmpty { ftruncate(fd, offset) }
    }

    static let chunkBytes = 1 << 20

    private func take(_ line: ArraySlice<UInt8>, at lineOffset: Int64) {
        guard let v = try? JSONCodec.parse(Array(line)), let q = v["question"]?.stringValue else { return }
        let norm = Text.normalized(q)
        let cid = v["conversation_id"]?.stringValue ?? ""
        let key = cid.isEmpty ? "ledger#\(norm)" : "\(cid)#\(v["turn_index"]?.intValue ?? 0)"
        let digest = Digest(norm)
        let isNew = acceptedBy[digest] == nil
        remember(key: Digest(key), norm: digest)
        if near != nil && isNew {
            let set = NearDuplicates.shingles(norm)
            near!.add(lineOffset, set: set, bands: NearDuplicates.bands(of: set, near!.banding))
        }
    }

    /// The question of the ledger line at `lineOffset` (nil when it cannot be read back).
    private func ledgerQuestion(at lineOffset: Int64) -> String? {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 14)
        var position = off_t(lineOffset)
        while line.count < Self.chunkBytes {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, position) }
            if n <= 0 { break }
            if let end = chunk[..<n].firstIndex(of: 0x0A) { line += chunk[..<end]; break }
            line += chunk[..<n]
            position += off_t(n)
        }
        return (try? JSONCodec.parse(line))?["question"]?.stringValue
    }

    private func remember(key: Digest, norm: Digest) {
        if let old = questionOf[key], old != norm, acceptedBy[old] == key { acceptedBy[old] = nil }
        questionOf[key] = norm
        if acceptedBy[norm] == nil { acceptedBy[norm] = key }
    }

    public func decide(_ candidates: [DedupCandidate]) throws(DlgError) -> [DedupDecision] {
        let norms = candidates.map { Text.normalized($0.question) }
        let vectors = try semantic?.semantic.vectors(norms)
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        try catchUp()
        try semantic?.catchUp()
        var decisions: [DedupDecision] = []
        var out: [UInt8] = []
        // The questions of this batch accepted so far, by where their lines will start.
        var pending: [Int64: (text: String, digest: Digest)] = [:]
        func stored(_ at: Int64) -> (text: String, digest: Digest)? {
            if let p = pending[at] { return p }
            return ledgerQuestion(at: at).map { ($0, Digest(Text.normalized($0))) }
        }
        matchTexts = [:]
        for (i, c) in candidates.enumerated() {
            let text = norms[i]
            if text.isEmpty { decisions.append(.duplicate); continue }
            let norm = Digest(text), key = Digest(c.key)
            if questionOf[key] == norm && acceptedBy[norm] == key { decisions.append(.accepted); continue }
            if acceptedBy[norm] != nil { decisions.append(.duplicate); continue }
            // A question still accepted, and not the one this turn held before (a turn asked again).
            let live = { (d: Digest) in self.acceptedBy[d] != nil && self.acceptedBy[d] != key }
            var shingled: (set: Set<UInt64>, bands: [UInt64])?
            if near != nil {
                let set = NearDuplicates.shingles(text)
                let bands = NearDuplicates.bands(of: set, near!.banding)
                let liveAt = { (at: Int64) -> Bool in stored(at).map { live($0.digest) } ?? false }
                if let hit = near!.match(set, bands: bands, isLive: liveAt), let matched = stored(hit.id) {
                    decisions.append(.nearDuplicate(of: matched.digest.hex, similarity: hit.similarity))
                    matchTexts[matched.digest.hex] = matched.text
                    continue
                }
                shingled = (set, bands)
            }
            if let ledger = semantic, let v = vectors?[i] {
                if let hit = ledger.index.match(v, isLive: { live($0.digest) }) {
                    decisions.append(.semanticDuplicate(of: hit.id.digest.hex, similarity: hit.similarity))
                    matchTexts[hit.id.digest.hex] = hit.id.ledgerOffset < Int64(offset)
                        ? ledgerQuestion(at: hit.id.ledgerOffset)
                        : candidates.first { Digest(Text.normalized($0.question)) == hit.id.digest }?.question
                    continue
                }
                ledger.add(norm, ledgerOffset: Int64(offset) + Int64(out.count), vector: v)
            }
            if let shingled {
                let at = Int64(offset) + Int64(out.count)
                near!.add(at, set: shingled.set, bands: shingled.bands)
                pending[at] = (c.question, norm)
            }
            remember(key: key, norm: norm)
            JSON.object(c.ledgerEntry).write(into: &out)
            out.append(0x0A)
            decisions.append(.accepted)
        }
        try semantic?.flush()
        if !out.isEmpty {
            try Files.writeAll(out, to: fd, path: path)
            offset += off_t(out.count)
        }
        return decisions
    }
}
