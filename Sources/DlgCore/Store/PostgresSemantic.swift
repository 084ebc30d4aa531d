import Foundation

/// Semantic dedup in PostgreSQL: each accepted question's vector is a row of
/// `dlgforge_question_vectors` (float32 little-endian in a bytea), written in the transaction that
/// accepts the question, under the run's near-dedup advisory lock; each process keeps the rows it has
/// read in a flat `SemanticIndex` and reads only the rows added since (`id` grows in commit order,
/// since every writer holds the lock). Debian 12 has no pgvector for PostgreSQL 15, and a flat scan
/// needs none (docs/decisions.md, "Semantic dedup").
final class PostgresSemanticIndex {
    let semantic: SemanticDedup
    let runID: String
    private var index: SemanticIndex<Int>
    private var rows: [(cid: String, turn: Int, norm: String)] = []
    /// A conversation turn's newest accepted question: an older one was freed (the turn asked again).
    private var latest: [String: String] = [:]
    private var lastID = 0
    /// The text of each question the last batch named as a semantic match, by its `question_hash`
    /// (normalized, as the table keeps it, for a match from the store).
    var matchTexts: [String: String] = [:]

    static let schemaSQL = """
        SELECT pg_advisory_xact_lock(4729031);
        CREATE TABLE IF NOT EXISTS dlgforge_question_vectors (
            run_id text NOT NULL,
            id bigserial,
            conversation_id text NOT NULL,
            turn_index integer NOT NULL,
            question_norm text NOT NULL,
            model text NOT NULL,
            vector bytea NOT NULL,
            PRIMARY KEY (run_id, id));
        """

    init(semantic: SemanticDedup, runID: String, db: PGConnection) throws(DlgError) {
        self.semantic = semantic
        self.runID = runID
        index = SemanticIndex(threshold: semantic.threshold)
        try db.script(Self.schemaSQL)
    }

    static let newRowsSQL = """
        SELECT id, conversation_id, turn_index, question_norm, encode(vector, 'hex') FROM dlgforge_question_vectors
        WHERE run_id = $1 AND model = $2 AND id > $3 ORDER BY id LIMIT $4
        """

    /// Rows read per query (a vector is 3 KB as hex): a long run's rows are never one result.
    var pageSize = 2000

    /// Reads the rows committed since the last look, a page at a time: before the run's lock and
    /// again under it, as `PostgresNearIndex.catchUp` (the committed rows are a prefix of the ids).
    func catchUp(_ query: PGQuery) throws(DlgError) {
        while true {
            let found = try query(Self.newRowsSQL, [.text(runID), .text(semantic.embedder.model), .int(lastID), .int(pageSize)])
            for row in found.rows {
                guard let id = row[0].flatMap({ Int($0) }), let cid = row[1], let turn = row[2].flatMap({ Int($0) }),
                      let norm = row[3], let hex = row[4] else { continue }
                lastID = max(lastID, id)
                take(cid: cid, turn: turn, norm: norm, vector: Self.floats(hex: hex))
            }
            if found.count < pageSize { return }
        }
    }

    private func take(cid: String, turn: Int, norm: String, vector: [Float]) {
        latest["\(cid)#\(turn)"] = norm
        index.add(rows.count, vector: vector)
        rows.append((cid, turn, norm))
    }

    /// The accepted question closest to `vector` at or above the threshold: not the same text (exact
    /// dedup decides that), not this turn's own, not one its turn has replaced.
    func match(_ vector: [Float], cid: String, turn: Int, norm: String) -> (hash: String, norm: String, similarity: Double)? {
        let hit = index.match(vector) { n in
            let r = rows[n]
            return r.norm != norm && !(r.cid == cid && r.turn == turn) && latest["\(r.cid)#\(r.turn)"] == r.norm
        }
        return hit.map { (questionHash(rows[$0.id].norm), rows[$0.id].norm, $0.similarity) }
    }

    static let addSQL = """
        INSERT INTO dlgforge_question_vectors (run_id, conversation_id, turn_index, question_norm, model, vector)
        SELECT $1, cid, turn, norm, $2, decode(hex, 'hex')
        FROM unnest($3::text[], $4::int[], $5::text[], $6::text[]) WITH ORDINALITY AS t(cid, turn, norm, hex, ord)
        ORDER BY ord
        """

    /// Writes the accepted questions' vectors in the accepting transaction. They are not indexed here:
    /// the next catch-up reads them back once committed, so a transaction rolled back (or run again
    /// after a lost connection) leaves nothing behind in this process.
    func commit(_ accepted: [(cid: String, turn: Int, norm: String, vector: [Float])], _ tx: PGTransaction) throws(DlgError) {
        guard !accepted.isEmpty else { return }
        try tx.query(Self.addSQL, [
            .text(runID), .text(semantic.embedder.model), .textArray(accepted.map(\.cid)), .intArray(accepted.map(\.turn)),
            .textArray(accepted.map(\.norm)), .textArray(accepted.map { Self.hex($0.vector) }),
        ])
    }

    static func hex(_ v: [Float]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(v.count * 8)
        for x in v {
            let bits = x.bitPattern
            for i in 0..<4 {
                let b = UInt8(truncatingIfNeeded: bits >> (8 * i))
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func floats(hex: String) -> [Float] {
        func nibble(_ c: UInt8) -> UInt32 { c <= 0x39 ? UInt32(c - 0x30) : UInt32(c - 0x61 + 10) }
        let bytes = Array(hex.utf8)
        var out: [Float] = []
        out.reserveCapacity(bytes.count / 8)
        var at = 0
        while at + 8 <= bytes.count {
            var bits: UInt32 = 0
            for i in 0..<4 { bits |= (nibble(bytes[at + 2 * i]) << 4 | nibble(bytes[at + 2 * i + 1])) << (8 * i) }
            out.append(Float(bitPattern: bits))
            at += 8
        }
        return out
    }
}

extension PostgresDedupStore {
    /// Semantic verdicts for the candidates near dedup let through (inside the locked transaction):
    /// near an accepted question, or near an earlier candidate of the batch that goes on, rejected.
    func semanticVerdicts(_ candidates: [DedupCandidate], norms: [String], vectors: [[Float]?],
                          into decisions: inout [DedupDecision?], _ index: PostgresSemanticIndex,
                          _ tx: PGTransaction) throws(DlgError) {
        try index.catchUp(tx.query)
        index.matchTexts = [:]
        var batch = SemanticIndex<Int>(threshold: index.semantic.threshold)
        // A question repeated in the batch is decided once: a repeat of one found a semantic duplicate
        // gets the same decision (left to exact dedup, the repeat would be the first of its text there:
        // accepted, and the pair through).
        var first: [String: Int] = [:]
        for (i, c) in candidates.enumerated() where decisions[i] == nil && !norms[i].isEmpty {
            if let k = first[norms[i]] {
                if case .semanticDuplicate = decisions[k] { decisions[i] = decisions[k] }
                continue
            }
            first[norms[i]] = i
            guard let v = vectors[i] else { continue }
            let stored = index.match(v, cid: c.conversationID, turn: c.turnIndex, norm: norms[i])
            let earlier = batch.match(v) { k in
                candidates[k].conversationID != c.conversationID || candidates[k].turnIndex != c.turnIndex }
            if let stored, stored.similarity >= (earlier?.similarity ?? -2) {
                decisions[i] = .semanticDuplicate(of: stored.hash, similarity: stored.similarity)
                index.matchTexts[stored.hash] = stored.norm
            } else if let earlier {
                decisions[i] = .semanticDuplicate(of: questionHash(norms[earlier.id]), similarity: earlier.similarity)
                index.matchTexts[questionHash(norms[earlier.id])] = candidates[earlier.id].question
            } else {
                batch.add(i, vector: v)
            }
        }
    }

    /// The accepted candidates' vectors, written in the accepting transaction.
    func commitVectors(_ candidates: [DedupCandidate], norms: [String], vectors: [[Float]?],
                       accepted: [Int], _ index: PostgresSemanticIndex, _ tx: PGTransaction) throws(DlgError) {
        var rows: [(cid: String, turn: Int, norm: String, vector: [Float])] = []
        for i in accepted {
            guard let v = vectors[i] else { continue }
            rows.append((candidates[i].conversationID, candidates[i].turnIndex, norms[i], v))
        }
        try index.commit(rows, tx)
    }
}
