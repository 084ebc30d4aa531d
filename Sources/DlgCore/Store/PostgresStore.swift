import Foundation

/// What a store holds of one run, for `dlg-run --list-runs`.
public struct StoredRun: Sendable {
    public var runID: String
    public var created: String
    public var updated: String
    public var questions: Int
    public var dialogues: Int
}

/// The run's shared state in PostgreSQL: accepted questions (which are also the coverage ledger),
/// the run journal and the list of runs. The schema is created on first use and versioned in
/// `dlgforge_schema_version`; every key starts with the run id, so runs never mix.
public final class PostgresStore: @unchecked Sendable {
    public let db: PGConnection
    /// The schema this version of dlgforge writes and reads.
    public static let schemaVersion = 1

    /// Connects and makes sure the schema is there (created under an advisory lock, so processes
    /// starting together do not race); a newer schema than this tool knows is a config error (78).
    public init(connection: PGConnection) throws(DlgError) {
        db = connection
        try db.script(Self.schemaSQL)
        let found = try db.query("SELECT max(version) FROM dlgforge_schema_version")
        let version = found.count > 0 ? Int(found[0, 0] ?? "") ?? 0 : 0
        if version > Self.schemaVersion {
            throw DlgError.config("postgres at \(db.location): the database holds dlgforge schema version \(version), newer than this dlgforge knows (\(Self.schemaVersion)); use a newer dlgforge or another database")
        }
    }

    /// Schema version 1. One implicit transaction (a simple query with several statements); the
    /// advisory lock serializes concurrent first uses.
    static let schemaSQL = """
        SELECT pg_advisory_xact_lock(4729031);
        CREATE TABLE IF NOT EXISTS dlgforge_schema_version (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS dlgforge_runs (
            run_id text PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE IF NOT EXISTS dlgforge_questions (
            run_id text NOT NULL,
            question_norm text NOT NULL,
            conversation_id text NOT NULL,
            turn_index integer NOT NULL,
            entry text NOT NULL,
            batch bigint NOT NULL,
            ord integer NOT NULL,
            PRIMARY KEY (run_id, question_norm));
        CREATE SEQUENCE IF NOT EXISTS dlgforge_batches;
        CREATE INDEX IF NOT EXISTS dlgforge_questions_turn ON dlgforge_questions (run_id, conversation_id, turn_index);
        CREATE TABLE IF NOT EXISTS dlgforge_journal (
            run_id text NOT NULL,
            conversation_id text NOT NULL,
            first_seen bigserial,
            record text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (run_id, conversation_id));
        CREATE INDEX IF NOT EXISTS dlgforge_journal_order ON dlgforge_journal (run_id, first_seen);
        CREATE TABLE IF NOT EXISTS dlgforge_question_bands (
            run_id text NOT NULL,
            band smallint NOT NULL,
            hash bigint NOT NULL,
            conversation_id text NOT NULL,
            turn_index integer NOT NULL,
            PRIMARY KEY (run_id, band, hash, conversation_id, turn_index));
        INSERT INTO dlgforge_schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;
        """

    /// Records that a run uses this store (and when it last did).
    public func registerRun(_ runID: String) throws(DlgError) {
        try db.query("""
            INSERT INTO dlgforge_runs (run_id) VALUES ($1)
            ON CONFLICT (run_id) DO UPDATE SET updated_at = now()
            """, [.text(runID)])
    }

    /// The runs this store holds, oldest first.
    public func runs() throws(DlgError) -> [StoredRun] {
        let rows = try db.query("""
            SELECT r.run_id,
                   to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                   (SELECT count(*) FROM dlgforge_questions q WHERE q.run_id = r.run_id),
                   (SELECT count(*) FROM dlgforge_journal j WHERE j.run_id = r.run_id)
            FROM dlgforge_runs r ORDER BY r.created_at, r.run_id
            """)
        return rows.rows.map {
            StoredRun(runID: $0[0] ?? "", created: $0[1] ?? "", updated: $0[2] ?? "",
                      questions: Int($0[3] ?? "") ?? 0, dialogues: Int($0[4] ?? "") ?? 0)
        }
    }

    /// The run's coverage-ledger lines in the order they were accepted, a page at a time (keyset
    /// paging, so a large run is never held whole).
    public func forEachLedgerEntry(runID: String, pageSize: Int = 5000,
                                   _ body: (String) throws(DlgError) -> Void) throws(DlgError) {
        var after = (batch: 0, ord: 0)
        while true {
            let page = try db.query("""
                SELECT batch, ord, entry FROM dlgforge_questions
                WHERE run_id = $1 AND (batch, ord) > ($2::bigint, $3::int) ORDER BY batch, ord LIMIT $4
                """, [.text(runID), .int(after.batch), .int(after.ord), .int(pageSize)])
            for row in page.rows { try body(row[2] ?? "") }
            guard page.count == pageSize, let last = page.rows.last,
                  let b = last[0].flatMap({ Int($0) }), let o = last[1].flatMap({ Int($0) }) else { return }
            after = (b, o)
        }
    }

    /// Writes the run's `coverage_ledger.jsonl` (the same lines as the file store's) to `path`
    /// through a temporary name; returns the number of lines.
    @discardableResult
    public func writeLedger(runID: String, to path: String) throws(DlgError) -> Int {
        let file = try AtomicFile(path)
        var n = 0
        try forEachLedgerEntry(runID: runID) { (entry: String) throws(DlgError) in
            try file.write(Array(entry.utf8) + [0x0A])
            n += 1
        }
        try file.commit()
        return n
    }
}

/// The dedup store in PostgreSQL: `(run_id, normalized question)` is unique, so any number of
/// processes and machines accept a question once per run; across processes the first to commit
/// wins. One round trip per batch; within a batch the lowest slot wins, and a question already
/// accepted for the same (conversation_id, turn_index) is accepted again (idempotent), as in the
/// file store.
public final class PostgresDedupStore: DedupStore {
    public let store: PostgresStore
    public let runID: String

    /// The near-duplicate threshold and banding (nil: exact dedup only); the shingle sets come from the database.
    let near: NearDuplicates.Banding?
    let nearThreshold: Double
    /// The earlier runs whose questions this run's are checked against (`coverage.dedup_against_runs`).
    public let againstRuns: [String]
    public var rejectionLog: DedupRejectionLog?
    public private(set) var matchTexts: [String: String] = [:]
    /// The vectors read so far (nil: semantic dedup off; Store/PostgresSemantic.swift).
    let semantic: PostgresSemanticIndex?

    /// `nearThreshold`: `coverage.near_dedup_threshold` (0: exact dedup only). `against`: the earlier
    /// runs to check against; a run id the store does not hold is a config error (78): a typo would
    /// otherwise check nothing.
    /// `semantic`: `coverage.semantic_dedup_threshold` and its embedder (nil: off).
    public init(store: PostgresStore, runID: String, nearThreshold: Double = 0, against: DedupAgainstRuns = .none,
                semantic: SemanticDedup? = nil) throws(DlgError) {
        self.store = store
        self.runID = runID
        self.nearThreshold = nearThreshold
        near = nearThreshold > 0 ? NearDuplicates.Banding(threshold: nearThreshold) : nil
        self.semantic = try semantic.map { (s) throws(DlgError) in try PostgresSemanticIndex(semantic: s, runID: runID, db: store.db) }
        if against.isActive {
            let stored = try store.runs().map(\.runID)
            if case .runs(let ids) = against, let missing = ids.first(where: { !stored.contains($0) }) {
                throw DlgError.config("coverage.dedup_against_runs: run \"\(missing)\" is not in the store at \(store.db.location)")
            }
            againstRuns = against.resolve(stored: stored, current: runID)
        } else {
            againstRuns = []
        }
        try store.registerRun(runID)
    }

    /// Inserts the batch in one statement. Rows go in sorted by question so two processes never
    /// wait on each other's rows in opposite orders (no deadlock); the ledger order is kept apart,
    /// as (batch, ord): one number per statement, then the slot within the batch.
    /// Accepted: the rows inserted now, plus the rows already there for the same question and the
    /// same conversation turn (the statement's snapshot predates its own inserts, so none counts
    /// twice). A turn accepted with a new question frees its old one, as the file store does.
    static let acceptSQL = """
        WITH input AS (
            SELECT t.norm, t.cid, t.turn, t.entry, t.ord
            FROM unnest($2::text[], $3::text[], $4::int[], $5::text[]) WITH ORDINALITY AS t(norm, cid, turn, entry, ord)
        ), batch AS (
            SELECT nextval('dlgforge_batches') AS id
        ), ins AS (
            INSERT INTO dlgforge_questions (run_id, question_norm, conversation_id, turn_index, entry, batch, ord)
            SELECT $1, norm, cid, turn, entry, batch.id, ord FROM input, batch ORDER BY norm
            ON CONFLICT (run_id, question_norm) DO NOTHING
            RETURNING question_norm, conversation_id, turn_index
        ), freed AS (
            DELETE FROM dlgforge_questions q USING ins
            WHERE q.run_id = $1 AND q.conversation_id = ins.conversation_id AND q.turn_index = ins.turn_index
              AND q.question_norm <> ins.question_norm
        )
        SELECT i.ord FROM input i JOIN ins ON ins.question_norm = i.norm
        UNION ALL
        SELECT i.ord FROM input i JOIN dlgforge_questions q
            ON q.run_id = $1 AND q.question_norm = i.norm AND q.conversation_id = i.cid AND q.turn_index = i.turn
        """

    public func decide(_ candidates: [DedupCandidate]) throws(DlgError) -> [DedupDecision] {
        matchTexts = [:]
        guard near != nil || semantic != nil else {
            let earlier = try acceptedEarlier(candidates) { (sql, params) throws(DlgError) in try store.db.query(sql, params) }
            let rest = candidates.indices.filter { !earlier.contains($0) }
            let exact = try exactDecide(rest.map { candidates[$0] }) { (sql, params) throws(DlgError) in try store.db.query(sql, params) }
            var decisions = [DedupDecision](repeating: .duplicate, count: candidates.count)
            for (k, i) in rest.enumerated() where exact[k] { decisions[i] = .accepted }
            return decisions
        }
        // Asked before the transaction: no lock is held over a request to the embeddings endpoint.
        let vectors = try semantic?.semantic.vectors(candidates.map { Text.normalized($0.question) })
        return try store.db.transaction { (tx: PGTransaction) throws(DlgError) in
            try nearDecide(candidates, near, vectors: vectors, tx)
        }
    }

    /// The earlier runs' questions the candidates repeat exactly (`coverage.dedup_against_runs`):
    /// their positions. No round trip when no earlier run is checked.
    static let earlierSQL = """
        SELECT DISTINCT question_norm FROM dlgforge_questions WHERE run_id = ANY($1::text[]) AND question_norm = ANY($2::text[])
        """

    func acceptedEarlier(_ candidates: [DedupCandidate],
                         _ run: (String, [PGValue]) throws(DlgError) -> PGRows) throws(DlgError) -> Set<Int> {
        if againstRuns.isEmpty || candidates.isEmpty { return [] }
        let norms = candidates.map { Text.normalized($0.question) }
        let rows = try run(Self.earlierSQL, [.textArray(againstRuns), .textArray(norms)])
        let found = Set(rows.rows.compactMap { $0[0] })
        return Set(norms.indices.filter { found.contains(norms[$0]) })
    }

    /// Exact dedup of a batch in one statement (`acceptSQL`) through `run`.
    func exactDecide(_ candidates: [DedupCandidate],
                     _ run: (String, [PGValue]) throws(DlgError) -> PGRows) throws(DlgError) -> [Bool] {
        var decisions = [Bool](repeating: false, count: candidates.count)
        var firstOf: [String: Int] = [:]          // normalized question -> position in the statement
        var norms: [String] = [], cids: [String] = [], turns: [Int] = [], entries: [String] = []
        var sentFrom: [Int] = []                   // position in the statement -> candidate
        var sameTurn: [(candidate: Int, sent: Int)] = []
        for (i, c) in candidates.enumerated() {
            let norm = Text.normalized(c.question)
            if norm.isEmpty { continue }
            if let j = firstOf[norm] {
                // A later slot asking the same question loses, unless it is the same conversation turn.
                if cids[j] == c.conversationID && turns[j] == c.turnIndex { sameTurn.append((i, j)) }
                continue
            }
            firstOf[norm] = norms.count
            norms.append(norm)
            cids.append(c.conversationID)
            turns.append(c.turnIndex)
            entries.append(JSON.object(c.ledgerEntry).serialized())
            sentFrom.append(i)
        }
        if norms.isEmpty { return decisions }
        let rows = try run(Self.acceptSQL, [
            .text(runID), .textArray(norms), .textArray(cids), .intArray(turns), .textArray(entries),
        ])
        for row in rows.rows {
            guard let ord = row[0].flatMap({ Int($0) }), ord >= 1, ord <= sentFrom.count else { continue }
            decisions[sentFrom[ord - 1]] = true
        }
        for (i, j) in sameTurn { decisions[i] = decisions[sentFrom[j]] }
        return decisions
    }

    /// The accepted questions sharing a band with any of the given ones, with their text (read back
    /// from `dlgforge_questions`, so every match is confirmed on the real shingle sets), of this run
    /// and the earlier runs it is checked against ($1). One index probe per band hash: the lateral
    /// subquery's `OFFSET 0` keeps the planner from turning the lookup into a hash join over the
    /// run's whole bands table, which it chose for a batch's 42,000 hashes (O(run size) a batch:
    /// 290 ms at 28,000 questions against 134 ms by the index, and growing with the run).
    static let bandHitsSQL = """
        SELECT DISTINCT b.run_id, b.band, b.hash, q.conversation_id, q.turn_index, q.question_norm, q.entry, q.batch, q.ord
        FROM unnest($2::int[], $3::bigint[]) AS u(band, hash)
        CROSS JOIN LATERAL (
            SELECT b.run_id, b.band, b.hash, b.conversation_id, b.turn_index FROM dlgforge_question_bands b
            WHERE b.run_id = ANY($1::text[]) AND b.band = u.band AND b.hash = u.hash OFFSET 0) b
        JOIN dlgforge_questions q ON q.run_id = b.run_id AND q.conversation_id = b.conversation_id AND q.turn_index = b.turn_index
        ORDER BY q.batch, q.ord
        """

    static let addBandsSQL = """
        INSERT INTO dlgforge_question_bands (run_id, band, hash, conversation_id, turn_index)
        SELECT $1, band, hash, cid, turn FROM unnest($2::int[], $3::bigint[], $4::text[], $5::int[]) AS t(band, hash, cid, turn)
        ORDER BY band, hash
        ON CONFLICT DO NOTHING
        """

    /// An accepted question a batch may be near.
    struct Stored { var run: String; var cid: String; var turn: Int; var norm: String; var entry: String }

    /// The accepted questions sharing a band with the batch's, numbered in the order they were
    /// accepted (so of equally similar ones the first accepted is named), indexed by those bands.
    func bandHits(_ bands: [[UInt64]], _ tx: PGTransaction) throws(DlgError) -> ([Stored], NearIndex<Int>) {
        var qBand: [Int] = [], qHash: [Int] = []
        for b in bands {
            for (i, h) in b.enumerated() { qBand.append(i); qHash.append(Int(bitPattern: UInt(h))) }
        }
        var stored: [Stored] = [], storedAt: [String: Int] = [:]
        var hits = NearIndex<Int>(threshold: nearThreshold)
        if qBand.isEmpty { return (stored, hits) }
        let rows = try tx.query(Self.bandHitsSQL, [.textArray([runID] + againstRuns), .intArray(qBand), .intArray(qHash)])
        var bandsOf: [Int: [UInt64]] = [:]
        for row in rows.rows {
            guard let run = row[0], let hash = row[2].flatMap({ Int($0) }), let cid = row[3],
                  let turn = row[4].flatMap({ Int($0) }), let norm = row[5] else { continue }
            let key = "\(run)#\(cid)#\(turn)"
            let n = storedAt[key] ?? stored.count
            if n == stored.count { storedAt[key] = n; stored.append(Stored(run: run, cid: cid, turn: turn, norm: norm, entry: row[6] ?? "")) }
            bandsOf[n, default: []].append(UInt64(bitPattern: Int64(hash)))
        }
        for n in stored.indices { hits.add(n, set: NearDuplicates.shingles(stored[n].norm), bands: bandsOf[n] ?? []) }
        return (stored, hits)
    }

    /// Exact and near dedup of a batch in one transaction that holds the run's near-dedup lock
    /// (`pg_advisory_xact_lock`), so batches of every process of the run are decided one after the
    /// other, each seeing every question committed before it: first to commit wins, as for exact
    /// dedup. The accepted questions' band hashes are written in the same transaction.
    /// `banding` nil: semantic dedup alone (no shingles, no bands, nothing near).
    func nearDecide(_ candidates: [DedupCandidate], _ banding: NearDuplicates.Banding?, vectors: [[Float]?]? = nil,
                    _ tx: PGTransaction) throws(DlgError) -> [DedupDecision] {
        try tx.query("SELECT pg_advisory_xact_lock(4729032, hashtext($1))", [.text(runID)])
        let norms = candidates.map { Text.normalized($0.question) }
        let sets = norms.map { banding == nil ? [] : NearDuplicates.shingles($0) }
        let bands = sets.map { set in banding.map { NearDuplicates.bands(of: set, $0) } ?? [] }
        let found = try bandHits(bands, tx)
        let stored = found.0
        var hits = found.1
        let earlier = try acceptedEarlier(candidates) { (sql, params) throws(DlgError) in try tx.query(sql, params) }
        // In input order: near an accepted question (not this turn's own, not the same text, which
        // exact dedup decides) or near an earlier question of the batch that goes on: rejected.
        var decisions = [DedupDecision?](repeating: nil, count: candidates.count)
        for i in earlier { decisions[i] = .duplicate }
        var batch = NearIndex<Int>(threshold: nearThreshold)
        // A question repeated in the batch is decided once: a repeat of one found near gets the same
        // decision (left to exact dedup, the repeat would be the first of its text there: accepted).
        var first: [String: Int] = [:]
        for (i, c) in candidates.enumerated() where decisions[i] == nil && !norms[i].isEmpty {
            if let k = first[norms[i]] {
                if case .nearDuplicate = decisions[k] { decisions[i] = decisions[k] }
                continue
            }
            first[norms[i]] = i
            let own = { (n: Int) in stored[n].norm != norms[i]
                && !(stored[n].run == self.runID && stored[n].cid == c.conversationID && stored[n].turn == c.turnIndex) }
            let earlierInBatch = { (k: Int) in candidates[k].conversationID != c.conversationID || candidates[k].turnIndex != c.turnIndex }
            let a = hits.match(sets[i], bands: bands[i], isLive: own)
            let b = batch.match(sets[i], bands: bands[i], isLive: earlierInBatch)
            if let a, a.similarity >= (b?.similarity ?? -1) {
                let id = questionHash(stored[a.id].norm)
                decisions[i] = .nearDuplicate(of: id, similarity: a.similarity)
                matchTexts[id] = (try? JSONCodec.parse(Array(stored[a.id].entry.utf8)))?["question"]?.stringValue ?? stored[a.id].norm
            } else if let b {
                let id = questionHash(norms[b.id])
                decisions[i] = .nearDuplicate(of: id, similarity: b.similarity)
                matchTexts[id] = candidates[b.id].question
            } else {
                batch.add(i, set: sets[i], bands: bands[i])
            }
        }
        if let semantic, let vectors {
            try semanticVerdicts(candidates, norms: norms, vectors: vectors, into: &decisions, semantic, tx)
            for (id, text) in semantic.matchTexts { matchTexts[id] = text }
        }
        let rest = candidates.indices.filter { decisions[$0] == nil }
        let exact = try exactDecide(rest.map { candidates[$0] }) { (sql, params) throws(DlgError) in try tx.query(sql, params) }
        var addBand: [Int] = [], addHash: [Int] = [], addCid: [String] = [], addTurn: [Int] = []
        for (k, i) in rest.enumerated() {
            decisions[i] = exact[k] ? .accepted : .duplicate
            guard exact[k] else { continue }
            for (band, h) in bands[i].enumerated() {
                addBand.append(band); addHash.append(Int(bitPattern: UInt(h)))
                addCid.append(candidates[i].conversationID); addTurn.append(candidates[i].turnIndex)
            }
        }
        if !addBand.isEmpty {
            try tx.query(Self.addBandsSQL, [.text(runID), .intArray(addBand), .intArray(addHash),
                                            .textArray(addCid), .intArray(addTurn)])
        }
        if let semantic, let vectors {
            try commitVectors(candidates, norms: norms, vectors: vectors,
                              accepted: rest.indices.filter { exact[$0] }.map { rest[$0] }, semantic, tx)
        }
        return decisions.map { $0 ?? .duplicate }
    }
}
