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
    public static let schemaVersion = 2

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

    /// Schema version 2. One implicit transaction (a simple query with several statements); the
    /// advisory lock serializes concurrent first uses. Version 2 replaced version 1's
    /// `dlgforge_question_bands` (a row per band hash, looked up in the database) by
    /// `dlgforge_near_bands` (a row per accepted question, read into each process's index): a
    /// version-1 database is carried over with its near-dedup questions, their bands computed again
    /// from the text when read (docs/decisions.md, "The near index in PostgreSQL").
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
        CREATE TABLE IF NOT EXISTS dlgforge_near_bands (
            run_id text NOT NULL,
            id bigserial,
            conversation_id text NOT NULL,
            turn_index integer NOT NULL,
            question_norm text NOT NULL,
            band_rows smallint NOT NULL,
            bands bigint[],
            PRIMARY KEY (run_id, id));
        DO $$ BEGIN
            IF to_regclass('dlgforge_question_bands') IS NOT NULL THEN
                INSERT INTO dlgforge_near_bands (run_id, conversation_id, turn_index, question_norm, band_rows)
                SELECT q.run_id, q.conversation_id, q.turn_index, q.question_norm, 0 FROM dlgforge_questions q
                WHERE EXISTS (SELECT 1 FROM dlgforge_question_bands b WHERE b.run_id = q.run_id
                              AND b.conversation_id = q.conversation_id AND b.turn_index = q.turn_index)
                ORDER BY q.batch, q.ord;
                DROP TABLE dlgforge_question_bands;
            END IF;
        END $$;
        INSERT INTO dlgforge_schema_version (version) VALUES (2) ON CONFLICT DO NOTHING;
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

    /// The run's accepted questions read so far, for near dedup (nil: exact dedup only;
    /// Store/PostgresNearIndex.swift).
    let near: PostgresNearIndex?
    let nearThreshold: Double
    /// The earlier runs whose questions this run's are checked against (`coverage.dedup_against_runs`).
    public let againstRuns: [String]
    public var rejectionLog: DedupRejectionLog?
    public internal(set) var matchTexts: [String: String] = [:]
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
        near = nearThreshold > 0 ? PostgresNearIndex(threshold: nearThreshold, runID: runID, earlierRuns: againstRuns) : nil
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
        // What is committed already is read before the lock too; under it, only what came since.
        let query: PGQuery = { (sql, params) throws(DlgError) in try self.store.db.query(sql, params) }
        try near?.catchUp(query)
        try semantic?.catchUp(query)
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

    /// Exact and near dedup of a batch in one transaction that holds the run's near-dedup lock
    /// (`pg_advisory_xact_lock`), so batches of every process of the run are decided one after the
    /// other, each seeing every question committed before it (read into the process's index first):
    /// first to commit wins, as for exact dedup. The accepted questions' band hashes are written in
    /// the same transaction. `near` nil: semantic dedup alone (no shingles, no bands, nothing near).
    func nearDecide(_ candidates: [DedupCandidate], _ near: PostgresNearIndex?, vectors: [[Float]?]? = nil,
                    _ tx: PGTransaction) throws(DlgError) -> [DedupDecision] {
        try tx.query("SELECT pg_advisory_xact_lock(4729032, hashtext($1))", [.text(runID)])
        try near?.catchUp(tx.query)
        let norms = candidates.map { Text.normalized($0.question) }
        let sets = norms.map { near == nil ? [] : NearDuplicates.shingles($0) }
        let bands = sets.map { set in near.map { NearDuplicates.bands(of: set, $0.banding) } ?? [] }
        let earlier = try acceptedEarlier(candidates) { (sql, params) throws(DlgError) in try tx.query(sql, params) }
        var decisions = [DedupDecision?](repeating: nil, count: candidates.count)
        for i in earlier { decisions[i] = .duplicate }
        if let near {
            try nearVerdicts(candidates, norms: norms, sets: sets, bands: bands, into: &decisions, near, tx)
        }
        if let semantic, let vectors {
            try semanticVerdicts(candidates, norms: norms, vectors: vectors, into: &decisions, semantic, tx)
            for (id, text) in semantic.matchTexts { matchTexts[id] = text }
        }
        let rest = candidates.indices.filter { decisions[$0] == nil }
        let exact = try exactDecide(rest.map { candidates[$0] }) { (sql, params) throws(DlgError) in try tx.query(sql, params) }
        var accepted: [(cid: String, turn: Int, norm: String, bands: [UInt64])] = []
        for (k, i) in rest.enumerated() {
            decisions[i] = exact[k] ? .accepted : .duplicate
            if exact[k] && !bands[i].isEmpty {
                accepted.append((candidates[i].conversationID, candidates[i].turnIndex, norms[i], bands[i]))
            }
        }
        try near?.commit(accepted, tx)
        if let semantic, let vectors {
            try commitVectors(candidates, norms: norms, vectors: vectors,
                              accepted: rest.indices.filter { exact[$0] }.map { rest[$0] }, semantic, tx)
        }
        return decisions.map { $0 ?? .duplicate }
    }
}
