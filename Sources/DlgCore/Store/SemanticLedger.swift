import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The file store's semantic side: each accepted question's vector in a file beside the ledger
/// (`coverage_ledger.vectors` for `coverage_ledger.jsonl`), read and appended only under the ledger's
/// lock, so every process of a run sees every vector committed before its batch (first to commit
/// wins, as for exact dedup). A record is the model's tag, the normalized question's digest, where its
/// ledger line starts (to read its text back), the dimension and the floats (little-endian); the vectors of a batch are written before its ledger
/// lines, so a vector whose question never reached the ledger is simply not live.
final class SemanticLedger {
    let path: String
    let semantic: SemanticDedup
    private var fd: Int32 = -1
    private var offset: off_t = 0
    private(set) var index: SemanticIndex<Entry>
    private var pending: [UInt8] = []
    static let headerBytes = 8 + 16 + 8 + 4

    /// An indexed question: its normalized text's digest and where its ledger line starts.
    struct Entry: Hashable {
        let digest: FileDedupStore.Digest
        let ledgerOffset: Int64
        func hash(into h: inout Hasher) { h.combine(digest) }
        static func == (a: Entry, b: Entry) -> Bool { a.digest == b.digest }
    }

    init(ledgerPath: String, semantic: SemanticDedup) throws(DlgError) {
        path = (ledgerPath as NSString).deletingPathExtension + ".vectors"
        self.semantic = semantic
        index = SemanticIndex(threshold: semantic.threshold)
        fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DlgError.io("\(path): cannot open the semantic dedup vectors: \(String(cString: strerror(errno)))") }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Reads the vectors other processes appended since the last look (under the ledger's lock); a
    /// record cut short by a killed writer is cut off.
    func catchUp() throws(DlgError) {
        var st = stat()
        fstat(fd, &st)
        guard st.st_size > offset else { return }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size - offset))
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, offset) }
        guard n == bytes.count else { throw DlgError.io("\(path): short read") }
        var at = 0
        let tag = semantic.modelTag
        while at + Self.headerBytes <= bytes.count {
            let dim = Int(Self.u32(bytes, at + 32))
            let end = at + Self.headerBytes + dim * 4
            guard end <= bytes.count else { break }
            if Self.u64(bytes, at) == tag {
                let digest = FileDedupStore.Digest(high: Self.u64(bytes, at + 8), low: Self.u64(bytes, at + 16))
                let v = (0..<dim).map { Float(bitPattern: Self.u32(bytes, at + Self.headerBytes + $0 * 4)) }
                index.add(Entry(digest: digest, ledgerOffset: Int64(bitPattern: Self.u64(bytes, at + 24))), vector: v)
            }
            at = end
        }
        offset += off_t(at)
        if at < bytes.count { ftruncate(fd, offset) }
    }

    /// Takes an accepted question's vector into the index and the next write; `ledgerOffset`: where
    /// its ledger line will start.
    func add(_ digest: FileDedupStore.Digest, ledgerOffset: Int64, vector: [Float]) {
        index.add(Entry(digest: digest, ledgerOffset: ledgerOffset), vector: vector)
        Self.put64(semantic.modelTag, &pending)
        Self.put64(digest.high, &pending)
        Self.put64(digest.low, &pending)
        Self.put64(UInt64(bitPattern: ledgerOffset), &pending)
        Self.put32(UInt32(vector.count), &pending)
        for x in vector { Self.put32(x.bitPattern, &pending) }
    }

    /// Writes the batch's vectors (before the batch's ledger lines).
    func flush() throws(DlgError) {
        guard !pending.isEmpty else { return }
        try Files.writeAll(pending, to: fd, path: path)
        offset += off_t(pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    static func u64(_ b: [UInt8], _ at: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[at + i]) << (8 * i) }
        return v
    }

    static func u32(_ b: [UInt8], _ at: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(b[at + i]) << (8 * i) }
        return v
    }

    static func put64(_ v: UInt64, _ out: inout [UInt8]) { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
    static func put32(_ v: UInt32, _ out: inout [UInt8]) { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
}

extension FileDedupStore.Digest {
    /// A digest read back from the vectors file.
    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }
}
