import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One chunk of a knowledge file. Ids hash the path relative to `knowledge/`, so they are the
/// same on every machine (upstream hashes the absolute path).
public struct Chunk: Sendable {
    public var id: String
    public var text: String
    public var source: String
    public var chunkIndex: Int
    public var charStart: Int
    public var charEnd: Int

    var json: JSON {
        .obj(["id": .string(id), "text": .string(text),
              "metadata": .obj(["source": .string(source), "chunk_index": .int(chunkIndex),
                                "char_start": .int(charStart), "char_end": .int(charEnd)])])
    }
}

/// A search hit.
public struct Passage: Sendable {
    public var chunk: Chunk
    public var score: Double
}

/// The knowledge base: files under `knowledge/` chunked by characters, a BM25 index over the chunks,
/// and optional embeddings, persisted under `retrieval.persist_dir` with a fingerprint of the files and
/// settings so an unchanged knowledge base is reused and any change rebuilds on its own.
public final class KnowledgeBase: @unchecked Sendable {
    public let chunks: [Chunk]
    /// Chunks per source file, for coverage balancing.
    public let chunksBySource: [String: [Int]]
    public var sources: [String] { chunksBySource.keys.sorted() }
    private let bm25: BM25
    public private(set) var vectors: [[Double]]? = nil
    public let embeddingModel: String
    /// True when this process built (rather than reused) the index.
    public let rebuilt: Bool

    init(chunks: [Chunk], embeddingModel: String, rebuilt: Bool) {
        self.chunks = chunks
        var bySource: [String: [Int]] = [:]
        for (i, c) in chunks.enumerated() { bySource[c.source, default: []].append(i) }
        chunksBySource = bySource
        bm25 = BM25(documents: chunks.map { $0.text })
        self.embeddingModel = embeddingModel
        self.rebuilt = rebuilt
    }

    static let extensions: Set<String> = ["txt", "md", "markdown", "pdf"]

    /// The knowledge files, relative to `dir`, sorted.
    public static func listFiles(_ dir: String) -> [String] {
        // A knowledge folder that is a link is listed through it (the enumerator does not follow a link
        // it starts at); checkReadable then holds each file to the folder the link names.
        guard let e = FileManager.default.enumerator(atPath: URL(fileURLWithPath: dir).resolvingSymlinksInPath().path) else { return [] }
        var files: [String] = []
        while let rel = e.nextObject() as? String {
            let ext = (rel as NSString).pathExtension.lowercased()
            if extensions.contains(ext) && !rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
                files.append(rel)
            }
        }
        return files.sorted()
    }

    /// A knowledge file that cannot be read stops the build, named with the reason: every file under
    /// knowledge/ is meant to ground the dialogues, and a dataset silently built on fewer of them is
    /// worse than a run that does not start. A link whose target lies outside the knowledge folder is
    /// refused too: its text would go to the LLM provider and into the dataset (a knowledge folder
    /// from someone else could name `~/.ssh/id_ed25519` as `notes.txt`).
    static func checkReadable(_ path: String, in dir: String) throws(DlgError) {
        var st = stat()
        var why = ""
        if stat(path, &st) != 0 || access(path, R_OK) != 0 {
            why = String(cString: strerror(errno))
        } else if st.st_mode & S_IFMT != S_IFREG {
            why = "not a regular file"
        }
        if !why.isEmpty {
            throw DlgError(.noInput, "\(path): knowledge file cannot be read (\(why)); fix it or move it out of the knowledge folder")
        }
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFLNK else { return }
        let real = { (p: String) -> String? in
            guard let r = realpath(p, nil) else { return nil }
            defer { free(r) }
            return String(cString: r)
        }
        guard let target = real(path), let folder = real(dir), target.hasPrefix(folder + "/") else {
            throw DlgError(.noInput, "\(path): a link to a file outside the knowledge folder; its text would be sent to the LLM and put in the dataset, so copy the file in instead")
        }
    }

    /// Loads the persisted index when its fingerprint matches, else builds and persists it.
    /// `observer` hears the files read and the chunks embedded while the index is built.
    public static func open(settings: Settings, client: LLMClient? = nil,
                            observer: (any WorkObserver)? = nil) async throws(DlgError) -> KnowledgeBase {
        defer { observer?.ended() }
        let dir = settings.knowledgeDir
        if let shipped = try openShipped(settings: settings, knowledgeDir: dir) { return shipped }
        guard Files.isDirectory(dir) else {
            throw DlgError(.noInput, "\(dir): knowledge folder not found; put .txt, .md or .pdf files under knowledge/ beside the config")
        }
        let files = listFiles(dir)
        guard !files.isEmpty else {
            throw DlgError(.noInput, "\(dir): no .txt, .md or .pdf files in the knowledge folder")
        }
        let r = settings.retrieval
        var entries: [JSON] = []
        for f in files {
            var st = stat()
            stat((dir as NSString).appendingPathComponent(f), &st)
            let mtimeNs = Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec)
            entries.append(.obj(["mtime_ns": .int(mtimeNs), "path": .string(f), "size": .int(Int(st.st_size))]))
        }
        let fingerprintInput = JSON.obj(["chunk_size": .int(r.chunkSize), "embedding_model": .string(r.embeddingModel),
                                         "files": .array(entries), "overlap": .int(r.overlap)])
        let fingerprint = SHA256.hex(fingerprintInput.serialized())
        let indexDir = settings.indexDir
        let fpPath = (indexDir as NSString).appendingPathComponent("knowledge_fingerprint.json")
        let inventoryPath = (indexDir as NSString).appendingPathComponent("chunk_inventory.jsonl")
        let vectorsPath = (indexDir as NSString).appendingPathComponent("embeddings.jsonl")
        try Files.makeDirectory(indexDir)
        // One builder at a time: the stages of a pipe start together.
        let lockFD = Glibc.open((indexDir as NSString).appendingPathComponent(".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if lockFD >= 0 { flock(lockFD, LOCK_EX) }
        defer { if lockFD >= 0 { flock(lockFD, LOCK_UN); close(lockFD) } }

        if !r.rebuildIndex, r.skipIfUnchanged,
           let fp = try? JSONCodec.parse(Files.read(fpPath)), fp["fingerprint"]?.stringValue == fingerprint,
           let chunks = try? loadInventory(inventoryPath)
        {
            let kb = KnowledgeBase(chunks: chunks, embeddingModel: r.embeddingModel, rebuilt: false)
            if !r.embeddingModel.isEmpty {
                if let v = try? loadVectors(vectorsPath), v.count == chunks.count { kb.vectors = v }
                else if let client { try await kb.embedAll(settings: settings, client: client, path: vectorsPath, observer: observer) }
            }
            return kb
        }
        var chunks: [Chunk] = []
        for (i, f) in files.enumerated() {
            observer?.advanced(i, of: files.count, "files indexed")
            let path = (dir as NSString).appendingPathComponent(f)
            try checkReadable(path, in: dir)
            let text = (f as NSString).pathExtension.lowercased() == "pdf"
                ? try await PDFText.extract(path, shownAs: path) : try Files.readText(path)
            chunks.append(contentsOf: chunk(text: text, source: f, size: r.chunkSize, overlap: r.overlap))
        }
        var inventory: [UInt8] = []
        for c in chunks { c.json.write(into: &inventory); inventory.append(0x0A) }
        try Files.writeAtomically(inventory, to: inventoryPath)
        let kb = KnowledgeBase(chunks: chunks, embeddingModel: r.embeddingModel, rebuilt: true)
        if !r.embeddingModel.isEmpty, let client {
            try await kb.embedAll(settings: settings, client: client, path: vectorsPath, observer: observer)
        } else {
            try? FileManager.default.removeItem(atPath: vectorsPath)
        }
        // The fingerprint goes last: an interrupted build is never taken for a finished one.
        try Files.writeAtomically(JSON.obj(["fingerprint": .string(fingerprint)]).serialized(), to: fpPath)
        return kb
    }

    /// A shard of `dlg-cluster run` on a worker host: the driver shipped the index it built (and its
    /// vectors) without the knowledge files (DLG_SHIPPED_INDEX=1, no knowledge folder), so the index is
    /// taken as it is. Nil when this is not such a shard.
    static func openShipped(settings: Settings, knowledgeDir: String) throws(DlgError) -> KnowledgeBase? {
        guard settings.tree.environment["DLG_SHIPPED_INDEX"] == "1", !Files.isDirectory(knowledgeDir) else { return nil }
        let indexDir = settings.indexDir
        let inventoryPath = (indexDir as NSString).appendingPathComponent("chunk_inventory.jsonl")
        guard Files.exists((indexDir as NSString).appendingPathComponent("knowledge_fingerprint.json")),
              let chunks = try? loadInventory(inventoryPath) else {
            throw DlgError(.noInput, "\(indexDir): the knowledge index shipped with the job is missing or incomplete")
        }
        let r = settings.retrieval
        let kb = KnowledgeBase(chunks: chunks, embeddingModel: r.embeddingModel, rebuilt: false)
        if !r.embeddingModel.isEmpty {
            guard let v = try? loadVectors((indexDir as NSString).appendingPathComponent("embeddings.jsonl")), v.count == chunks.count else {
                throw DlgError(.noInput, "\(indexDir): the shipped knowledge index has no vectors for \(r.embeddingModel)")
            }
            kb.vectors = v
        }
        return kb
    }

    /// Every chunk of the persisted index as (source, chunk index), read without building anything
    /// (for an export's coverage figures); nil when there is no index.
    public static func inventoryKeys(settings: Settings) -> [(source: String, chunkIndex: Int)]? {
        let path = (settings.indexDir as NSString).appendingPathComponent("chunk_inventory.jsonl")
        guard Files.exists(path), let chunks = try? loadInventory(path) else { return nil }
        return chunks.map { ($0.source, $0.chunkIndex) }
    }

    static func loadInventory(_ path: String) throws -> [Chunk] {
        var out: [Chunk] = []
        try forEachLine(path) { line in
            let v = try JSONCodec.parse(Array(line))
            guard let id = v["id"]?.stringValue, let text = v["text"]?.stringValue, let m = v["metadata"] else {
                throw DlgError.data("bad inventory line")
            }
            out.append(Chunk(id: id, text: text, source: m["source"]?.stringValue ?? "",
                             chunkIndex: m["chunk_index"]?.intValue ?? 0, charStart: m["char_start"]?.intValue ?? 0,
                             charEnd: m["char_end"]?.intValue ?? 0))
        }
        return out
    }

    static func loadVectors(_ path: String) throws -> [[Double]] {
        var out: [[Double]] = []
        try forEachLine(path) { line in
            out.append(try JSONCodec.parse(Array(line)).arrayValue?.compactMap { $0.doubleValue } ?? [])
        }
        return out
    }

    /// The file's non-empty lines, streamed: every stage process opens the index, so it must not hold
    /// the index file beside the chunks it reads from it.
    static func forEachLine(_ path: String, _ body: (ArraySlice<UInt8>) throws -> Void) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DlgError(.noInput, "\(path): cannot read file") }
        defer { close(fd) }
        let reader = LineReader(fd: fd, name: path)
        while let line = try reader.next() {
            if !line.isEmpty { try body(line) }
        }
    }

    private func embedAll(settings: Settings, client: LLMClient, path: String,
                          observer: (any WorkObserver)?) async throws(DlgError) {
        let agent = settings.agent(.kbResponder)
        guard let endpoint = agent.endpoints.first else {
            throw DlgError.config("retrieval.embedding_model is set but no llm endpoint serves /v1/embeddings")
        }
        var out: [[Double]] = []
        let batch = 32
        var i = 0
        while i < chunks.count {
            observer?.advanced(i, of: chunks.count, "chunks embedded")
            let texts = chunks[i..<min(i + batch, chunks.count)].map { $0.text }
            do {
                out.append(contentsOf: try await client.embed(endpoint: endpoint, model: embeddingModel, texts: Array(texts)))
            } catch {
                throw DlgError.unavailable("embeddings from \(endpoint.name): \(error.message)")
            }
            i += batch
        }
        vectors = out.map(Self.unit)
        var bytes: [UInt8] = []
        for v in vectors! { JSON.array(v.map { .double($0) }).write(into: &bytes); bytes.append(0x0A) }
        try Files.writeAtomically(bytes, to: path)
    }

    static func unit(_ v: [Double]) -> [Double] {
        let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return n > 0 ? v.map { $0 / n } : v
    }

    /// Character sliding window of `size` with step `size - overlap`; chunks stripped, empty ones skipped.
    public static func chunk(text: String, source: String, size: Int, overlap: Int) -> [Chunk] {
        // Windows of `size` characters every `step`, found in one walk over the string's indices: an
        // array of the text's Characters would cost 16 bytes each (800 MB for a 50 MB file).
        let step = max(1, size - overlap)
        let idBase = String(SHA256.hex(source).prefix(16))
        var out: [Chunk] = []
        func emit(_ start: (offset: Int, index: String.Index), _ end: Int, _ endIndex: String.Index) {
            let piece = String(text[start.index..<endIndex]).trimmingCharacters(in: .whitespacesAndNewlines)
            if !piece.isEmpty {
                out.append(Chunk(id: "\(idBase)-\(out.count)", text: piece, source: source, chunkIndex: out.count,
                                 charStart: start.offset, charEnd: end))
            }
        }
        // Windows begun and not yet ended, oldest first: at most size / step + 1 of them.
        var open: [(offset: Int, index: String.Index)] = []
        var offset = 0
        var i = text.startIndex
        while i < text.endIndex {
            if offset % step == 0 { open.append((offset, i)) }
            text.formIndex(after: &i)
            offset += 1
            if let first = open.first, first.offset + size == offset {
                emit(first, offset, i)
                open.removeFirst()
                // A window that ends with the text is the last one.
                if i == text.endIndex { return out }
            }
        }
        if let first = open.first { emit(first, offset, text.endIndex) }
        return out
    }

    /// The best `k` passages for `query`: BM25, fused by rank with vector similarity when embeddings exist.
    public func search(_ query: String, k: Int, queryVector: [Double]? = nil,
                       allowedSources: Set<String>? = nil) -> [Passage] {
        var scores = bm25.scores(query)
        if let qv = queryVector, let vectors {
            // Reciprocal-rank fusion of the two rankings.
            let q = Self.unit(qv)
            let sims = vectors.map { v in zip(v, q).reduce(0) { $0 + $1.0 * $1.1 } }
            let lexRank = Self.ranks(scores)
            let vecRank = Self.ranks(sims)
            scores = (0..<chunks.count).map { 1 / (60 + Double(lexRank[$0])) + 1 / (60 + Double(vecRank[$0])) }
        }
        var idx = Array(0..<chunks.count)
        if let allowed = allowedSources { idx = idx.filter { allowed.contains(chunks[$0].source) } }
        idx = idx.filter { scores[$0] > 0 }
        idx.sort { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
        return idx.prefix(k).map { Passage(chunk: chunks[$0], score: scores[$0]) }
    }

    static func ranks(_ s: [Double]) -> [Int] {
        let order = s.indices.sorted { s[$0] != s[$1] ? s[$0] > s[$1] : $0 < $1 }
        var r = [Int](repeating: 0, count: s.count)
        for (rank, i) in order.enumerated() { r[i] = rank + 1 }
        return r
    }

    /// The tool result upstream's vector_db_search returns. Records store it without `rendered`
    /// (the passages a second time); `ToolCallResult.withRendered` adds it back for the model and the export.
    public static func toolResult(query: String, passages: [Passage]) -> JSON {
        let results = passages.map { p in
            JSON.obj(["source": .string(p.chunk.source), "chunk_index": .int(p.chunk.chunkIndex),
                      "content": .string(p.chunk.text)])
        }
        return .obj(["query": .string(query), "results": .array(results)])
    }
}

/// Okapi BM25 over whitespace/punctuation tokens (k1 1.5, b 0.75).
struct BM25 {
    private var postings: [String: [(doc: Int, tf: Int)]] = [:]
    private var lengths: [Int]
    private var avgLength: Double

    init(documents: [String]) {
        lengths = []
        for (i, d) in documents.enumerated() {
            let tokens = BM25.tokenize(d)
            lengths.append(tokens.count)
            var tf: [String: Int] = [:]
            for t in tokens { tf[t, default: 0] += 1 }
            for (t, c) in tf { postings[t, default: []].append((i, c)) }
        }
        avgLength = lengths.isEmpty ? 1 : max(1, Double(lengths.reduce(0, +)) / Double(lengths.count))
    }

    static let stopwords: Set<String> = ["the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "is", "are",
        "was", "were", "be", "it", "this", "that", "with", "as", "by", "at", "from", "how", "what", "why", "do",
        "does", "can", "i", "you", "my", "your", "we", "le", "la", "les", "de", "des", "et", "un", "une", "du"]

    static func tokenize(_ text: String) -> [String] {
        Text.lettersAndDigits(text).filter { !stopwords.contains($0) }
    }

    func scores(_ query: String) -> [Double] {
        var s = [Double](repeating: 0, count: lengths.count)
        let n = Double(lengths.count)
        for term in Set(BM25.tokenize(query)) {
            guard let list = postings[term] else { continue }
            let idf = log(1 + (n - Double(list.count) + 0.5) / (Double(list.count) + 0.5))
            for (doc, tf) in list {
                let f = Double(tf)
                s[doc] += idf * f * 2.5 / (f + 1.5 * (0.25 + 0.75 * Double(lengths[doc]) / avgLength))
            }
        }
        return s
    }
}
