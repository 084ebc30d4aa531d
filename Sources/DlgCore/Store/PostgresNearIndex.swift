import Foundation

/// Near dedup in PostgreSQL: each accepted question's band hashes are a row of `dlgforge_near_bands`
/// (with the question's normalized text, so a process can build its shingle set), written in the
/// transaction that accepts the question, under the run's near-dedup advisory lock. Each dlg-dedup
/// process keeps the rows it has read in a `NearIndex` and, under the lock, reads only the rows
/// committed since its last look (`id` grows in commit order, since every writer of the run holds the
/// lock). The lookups stay in the process; only the writes and the catch-up go to the database
/// (docs/decisions.md, "The near index in PostgreSQL").
///
/// The index knows a question by its row id and two hashes (its conversation turn, its text), 24
/// bytes beside the index's own: enough to say whether a candidate is this turn's own question, the
/// same text (exact dedup decides that) or one its turn has since replaced. The text of a match is
/// read back in one query a batch, for the rejections file.
final class PostgresNearIndex {
    let banding: NearDuplicates.Banding
    let runID: String
    /// The earlier runs checked against (`coverage.dedup_against_runs`): read whole at the first look.
    let earlierRuns: [String]

    struct Row {
        let id: Int64
        /// `turnKey(run, conversation, turn)` and `textKey(normalized question)`.
        let turn: UInt64
        let text: UInt64
    }

    private var index: NearIndex<Row>
    /// A conversation turn's newest row: an older one of the same turn was freed (the turn asked again).
    private var latest: [UInt64: Int64] = [:]
    private var lastID: Int64 = 0
    private var earlierRead = false
    /// Rows whose band hashes were computed again (written at another banding, or before schema 2).
    private(set) var recomputed = 0

    init(threshold: Double, runID: String, earlierRuns: [String]) {
        banding = NearDuplicates.Banding(threshold: threshold)
        self.runID = runID
        self.earlierRuns = earlierRuns
        index = NearIndex(threshold: threshold)
    }

    var count: Int { index.count }

    static func turnKey(run: String, conversation: String, turn: Int) -> UInt64 {
        NearDuplicates.mix(NearDuplicates.fnv(Array("\(run)\u{1}\(conversation)\u{1}\(turn)".utf8)))
    }

    static func textKey(_ norm: String) -> UInt64 { NearDuplicates.mix(NearDuplicates.fnv(Array(norm.utf8))) }

    static let newRowsSQL = """
        SELECT id, run_id, conversation_id, turn_index, question_norm, band_rows, bands FROM dlgforge_near_bands
        WHERE run_id = ANY($1::text[]) AND id > $2 ORDER BY id LIMIT $3
        """

    /// Rows read per query: a process that joins a long run never holds the run's rows in one result.
    var pageSize = 5000

    /// Reads the rows committed since the last look, a page at a time; the earlier runs, finished,
    /// once. Called before the run's lock is taken (most of what a process joining a long run has to
    /// read, without holding the others up) and again under it (what came since). Both are sound:
    /// ids are taken under the lock, so the rows committed at any moment are a prefix of the run's
    /// ids, and what is read was committed (safe to keep after a rollback of the caller's own).
    func catchUp(_ query: PGQuery) throws(DlgError) {
        if !earlierRead && !earlierRuns.isEmpty {
            var after: Int64 = 0
            while let last = try readPage(query, runs: earlierRuns, after: after, advancing: false) { after = last }
        }
        earlierRead = true
        while try readPage(query, runs: [runID], after: lastID, advancing: true) != nil {}
    }

    /// One page of the rows after `after`: the last id of a full page, nil at the end.
    private func readPage(_ query: PGQuery, runs: [String], after: Int64, advancing: Bool) throws(DlgError) -> Int64? {
        let found = try query(Self.newRowsSQL, [.textArray(runs), .int(Int(after)), .int(pageSize)])
        let last = read(found, advancing: advancing)
        return found.count == pageSize ? last : nil
    }

    /// Indexes the rows; returns the last id read.
    @discardableResult
    private func read(_ found: PGRows, advancing: Bool) -> Int64? {
        var last: Int64?
        for row in found.rows {
            guard let id = row[0].flatMap({ Int64($0) }), let run = row[1], let cid = row[2],
                  let turn = row[3].flatMap({ Int($0) }), let norm = row[4] else { continue }
            last = id
            if advancing { lastID = max(lastID, id) }
            let set = NearDuplicates.shingles(norm)
            var bands = Self.bands(text: row[6])
            if row[5].flatMap({ Int($0) }) != banding.rows || bands.count != banding.bands {
                bands = NearDuplicates.bands(of: set, banding)
                recomputed += 1
            }
            let key = Self.turnKey(run: run, conversation: cid, turn: turn)
            latest[key] = id
            index.add(Row(id: id, turn: key, text: Self.textKey(norm)), set: set, bands: bands)
        }
        return last
    }

    /// The accepted question most similar to a candidate at or above the threshold: not the same
    /// text, not this turn's own, not one its turn has replaced.
    func match(_ set: Set<UInt64>, bands: [UInt64], conversation: String, turn: Int, norm: String)
        -> (id: Int64, similarity: Double)? {
        let own = Self.turnKey(run: runID, conversation: conversation, turn: turn)
        let text = Self.textKey(norm)
        let hit = index.match(set, bands: bands) { row in
            row.text != text && row.turn != own && latest[row.turn] == row.id
        }
        return hit.map { ($0.id.id, $0.similarity) }
    }

    static let matchedSQL = """
        SELECT b.id, b.question_norm, q.entry FROM dlgforge_near_bands b
        LEFT JOIN dlgforge_questions q ON q.run_id = b.run_id AND q.question_norm = b.question_norm
        WHERE b.run_id = ANY($1::text[]) AND b.id = ANY($2::bigint[])
        """

    /// The matched rows' texts, by row id: the asked question from its ledger entry, else the
    /// normalized text (one query for the batch; none when nothing matched).
    func texts(of ids: [Int64], _ tx: PGTransaction) throws(DlgError) -> [Int64: (norm: String, asked: String)] {
        if ids.isEmpty { return [:] }
        let rows = try tx.query(Self.matchedSQL, [.textArray([runID] + earlierRuns), .intArray(ids.map { Int($0) })])
        var out: [Int64: (norm: String, asked: String)] = [:]
        for row in rows.rows {
            guard let id = row[0].flatMap({ Int64($0) }), let norm = row[1] else { continue }
            let asked = row[2].flatMap { try? JSONCodec.parse(Array($0.utf8)) }?["question"]?.stringValue
            out[id] = (norm, asked ?? norm)
        }
        return out
    }

    static let addSQL = """
        INSERT INTO dlgforge_near_bands (run_id, conversation_id, turn_index, question_norm, band_rows, bands)
        SELECT $1, cid, turn, norm, $2, bands::bigint[]
        FROM unnest($3::text[], $4::int[], $5::text[], $6::text[]) WITH ORDINALITY AS t(cid, turn, norm, bands, ord)
        ORDER BY ord
        """

    /// Writes the accepted questions' band hashes in the accepting transaction. They are not indexed
    /// here: the next catch-up reads them back once committed, so a transaction rolled back (or run
    /// again after a lost connection) leaves nothing behind in this process.
    func commit(_ accepted: [(cid: String, turn: Int, norm: String, bands: [UInt64])], _ tx: PGTransaction) throws(DlgError) {
        guard !accepted.isEmpty else { return }
        try tx.query(Self.addSQL, [
            .text(runID), .int(banding.rows), .textArray(accepted.map(\.cid)), .intArray(accepted.map(\.turn)),
            .textArray(accepted.map(\.norm)), .textArray(accepted.map { Self.literal($0.bands) }),
        ])
    }

    /// A bigint[] literal of band hashes (their bits as signed 64-bit numbers).
    static func literal(_ bands: [UInt64]) -> String {
        "{" + bands.map { String(Int64(bitPattern: $0)) }.joined(separator: ",") + "}"
    }

    /// The band hashes of a bigint[] in PostgreSQL's text form (`{1,-2}`; NULL or malformed: none).
    static func bands(text: String?) -> [UInt64] {
        guard let text, text.hasPrefix("{"), text.hasSuffix("}") else { return [] }
        var out: [UInt64] = []
        for part in text.dropFirst().dropLast().split(separator: ",") {
            guard let v = Int64(part) else { return [] }
            out.append(UInt64(bitPattern: v))
        }
        return out
    }
}

extension PostgresDedupStore {
    /// Near verdicts for a batch (inside the locked transaction, after the catch-up), in input order:
    /// near an accepted question (not this turn's own, not the same text, which exact dedup decides)
    /// or near an earlier question of the batch that goes on: rejected, naming the closest.
    func nearVerdicts(_ candidates: [DedupCandidate], norms: [String], sets: [Set<UInt64>], bands: [[UInt64]],
                      into decisions: inout [DedupDecision?], _ near: PostgresNearIndex,
                      _ tx: PGTransaction) throws(DlgError) {
        var batch = NearIndex<Int>(threshold: nearThreshold)
        var storedMatch: [Int: (row: Int64, similarity: Double)] = [:]
        // A question repeated in the batch is decided once: a repeat of one found near gets the same
        // decision (left to exact dedup, the repeat would be the first of its text there: accepted).
        var first: [String: Int] = [:]
        for (i, c) in candidates.enumerated() where decisions[i] == nil && !norms[i].isEmpty {
            if let k = first[norms[i]] {
                if case .nearDuplicate = decisions[k] { decisions[i] = decisions[k]; storedMatch[i] = storedMatch[k] }
                continue
            }
            first[norms[i]] = i
            let earlierInBatch = { (k: Int) in candidates[k].conversationID != c.conversationID || candidates[k].turnIndex != c.turnIndex }
            let a = near.match(sets[i], bands: bands[i], conversation: c.conversationID, turn: c.turnIndex, norm: norms[i])
            let b = batch.match(sets[i], bands: bands[i], isLive: earlierInBatch)
            if let a, a.similarity >= (b?.similarity ?? -1) {
                // Named once the stored texts are read back, below.
                decisions[i] = .nearDuplicate(of: "", similarity: a.similarity)
                storedMatch[i] = (a.id, a.similarity)
            } else if let b {
                let id = questionHash(norms[b.id])
                decisions[i] = .nearDuplicate(of: id, similarity: b.similarity)
                matchTexts[id] = candidates[b.id].question
            } else {
                batch.add(i, set: sets[i], bands: bands[i])
            }
        }
        let texts = try near.texts(of: Array(Set(storedMatch.values.map(\.row))), tx)
        for (i, m) in storedMatch {
            // A row read into the index is never deleted (a freed turn leaves its band row), so its text is there.
            let text = texts[m.row] ?? (norm: "", asked: "")
            let id = questionHash(text.norm)
            decisions[i] = .nearDuplicate(of: id, similarity: m.similarity)
            matchTexts[id] = text.asked
        }
    }
}
