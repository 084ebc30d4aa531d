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
    /// The accepted questions' shingle sets by normalized-question digest (nil: near dedup off).
    private var near: NearIndex<Digest>?
    /// The accepted questions' vectors (nil: semantic dedup off; Store/SemanticLedger.swift).
    private var semantic: SemanticLedger?
    /// The text of each question the last `decide` named as a semantic match, by its `question_hash`
    /// (for the rejections the report shows).
    public private(set) var semanticMatchTexts: [String: String] = [:]

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
        if near != nil {
            let set = NearDuplicates.shingles(norm)
            near!.add(Digest(norm), set: set, bands: NearDuplicates.bands(of: set, near!.banding))
        }
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
        semanticMatchTexts = [:]
        for (i, c) in candidates.enumerated() {
            let text = norms[i]
            if text.isEmpty { decisions.append(.duplicate); continue }
            let norm = Digest(text), key = Digest(c.key)
            if questionOf[key] == norm && acceptedBy[norm] == key { decisions.append(.accepted); continue }
            if acceptedBy[norm] != nil { decisions.append(.duplicate); continue }
            // A question still accepted, and not the one this turn held before (a turn asked again).
            let live = { (d: Digest) in self.acceptedBy[d] != nil && self.acceptedBy[d] != key }
            var shingled: (set: Set<UInt64>, bands: [UInt64])?
            if let index = near {
                let set = NearDuplicates.shingles(text)
                let bands = NearDuplicates.bands(of: set, index.banding)
                if let hit = index.match(set, bands: bands, isLive: live) {
                    decisions.append(.nearDuplicate(of: hit.id.hex, similarity: hit.similarity))
                    continue
                }
                shingled = (set, bands)
            }
            if let ledger = semantic, let v = vectors?[i] {
                if let hit = ledger.index.match(v, isLive: { live($0.digest) }) {
                    decisions.append(.semanticDuplicate(of: hit.id.digest.hex, similarity: hit.similarity))
                    semanticMatchTexts[hit.id.digest.hex] = hit.id.ledgerOffset < Int64(offset)
                        ? ledgerQuestion(at: hit.id.ledgerOffset)
                        : candidates.first { Digest(Text.normalized($0.question)) == hit.id.digest }?.question
                    continue
                }
                ledger.add(norm, ledgerOffset: Int64(offset) + Int64(out.count), vector: v)
            }
            if let shingled { near!.add(norm, set: shingled.set, bands: shingled.bands) }
            remember(key: key, norm: norm)
            JSON.object(c.ledgerEntry).write(into: &out)
            out.append(0x0A)
            decisions.append(.accepted)
        }
        try semantic?.flush()
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
}
