import Foundation

/// The run journal in PostgreSQL: one row per (run_id, conversation_id) holding the dialogue's
/// latest record, upserted at every state, so a killed run resumes from the database (on this
/// machine or any other that reaches it) exactly as from the journal file. Dialogues that `keep`
/// selects stay in memory; the others are a fixed-size entry of the index, read back by id when needed.
///
/// States are written behind the run by one thread, every state seen since the last write in one
/// round trip, so dlg-run's loop never waits on the database (one round trip per state cost 30% of
/// the request rate at 256 in flight). A SIGKILL can lose the states of the last round trip; the
/// resumed run redoes those steps from the state before, which dedup's idempotent re-accept makes
/// safe. Reads (`record`, `writeLatest`) and `flush` wait for the writes before them.
public final class PostgresJournal: DialogueJournal {
    public let store: PostgresStore
    public let runID: String
    public let index: DialogueIndex
    private let writer: JournalWriter

    /// Opens the run's journal, reading every dialogue's latest state in first-seen order. `counts`
    /// selects the slots the index's totals count (a shard's own).
    public init(store: PostgresStore, runID: String, keep: @escaping (JSONObject) -> Bool,
                counts: @escaping (Int) -> Bool = { _ in true }) throws(DlgError) {
        self.store = store
        self.runID = runID
        index = DialogueIndex(keep: keep, counts: counts)
        writer = JournalWriter(store: store, runID: runID)
        try store.registerRun(runID)
        try store.forEachJournalRecord(runID: runID) { (id: String, text: String) throws(DlgError) in
            guard let r = (try? JSONCodec.parse(text))?.objectValue, Record.id(r) == id else {
                throw DlgError.data("postgres at \(store.db.location): journal row \(runID)/\(id) is not a dialogue record")
            }
            try remember(r)
        }
    }

    /// A superseded state the totals counted is read back from the database before the new one is
    /// queued (the writes before it flushed first).
    private func remember(_ r: JSONObject) throws(DlgError) {
        try index.remember(r, offset: 0, length: 0) { (p: Int) throws(DlgError) in try self.record(at: p) }
    }

    deinit { writer.stop() }

    public func append(_ r: JSONObject) throws(DlgError) {
        try remember(r)
        try writer.enqueue(Record.id(r), Redact.values(JSON.object(r).serialized()))
    }

    public func append(_ r: JSONObject, line: [UInt8]) throws(DlgError) {
        try remember(r)
        try writer.enqueue(Record.id(r), Redact.values(String(decoding: line.last == 0x0A ? line.dropLast() : line[...], as: UTF8.self)))
    }

    /// Waits until every state appended so far is in the database.
    public func flush() throws(DlgError) { try writer.flush() }

    public func record(_ id: String) throws(DlgError) -> JSONObject {
        if let r = held[id] { return r }
        return try stored(id)
    }

    public func record(at p: Int) throws(DlgError) -> JSONObject { try stored(index.id(at: p)) }

    /// The dialogue's row, once the writes before are in.
    private func stored(_ id: String) throws(DlgError) -> JSONObject {
        try flush()
        let rows = try store.db.query("SELECT record FROM dlgforge_journal WHERE run_id = $1 AND conversation_id = $2",
                                      [.text(runID), .text(id)])
        guard rows.count == 1, let text = rows[0, 0], let r = (try? JSONCodec.parse(text))?.objectValue else {
            throw DlgError.io("postgres at \(store.db.location): the state of \(runID)/\(id) does not read back as a record")
        }
        return r
    }

    /// Fetched a thousand ids per round trip.
    public func writeLatest(_ positions: [Int], to target: String) throws(DlgError) {
        try flush()
        var out = try PlacedLines(target)
        var start = 0
        while start < positions.count {
            let chunk = positions[start..<min(positions.count, start + 1000)].map(index.id(at:))
            start += chunk.count
            let rows = try store.db.query("""
                SELECT conversation_id, record FROM dlgforge_journal WHERE run_id = $1 AND conversation_id = ANY($2::text[])
                """, [.text(runID), .textArray(chunk)])
            var byID: [String: String] = [:]
            for row in rows.rows { byID[row[0] ?? ""] = row[1] }
            for id in chunk {
                guard let text = byID[id] else { throw DlgError.io("postgres at \(store.db.location): no journal row for \(runID)/\(id)") }
                try out.write(Array(text.utf8) + [0x0A])
            }
        }
        try out.commit()
    }

    /// Nothing to drop: the table keeps only the latest state of each dialogue.
    public func compact() throws(DlgError) {
        try flush()
        index.lines = index.count
    }
}

/// The journal's write-behind thread: appended states queue here and go to the database together,
/// the latest state of each dialogue once per round trip, in the order they were first seen.
final class JournalWriter: @unchecked Sendable {
    private let store: PostgresStore
    private let runID: String
    private let cond = NSCondition()
    private var queue: [(id: String, text: String)] = []
    private var writing = false
    private var failure: DlgError?
    private var stopped = false
    /// Appends wait beyond this many queued states (the database fell behind).
    private let limit = 20_000

    static let upsertSQL = """
        INSERT INTO dlgforge_journal (run_id, conversation_id, record)
        SELECT $1, t.cid, t.rec FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(cid, rec, ord) ORDER BY t.ord
        ON CONFLICT (run_id, conversation_id) DO UPDATE SET record = EXCLUDED.record, updated_at = now()
        """

    init(store: PostgresStore, runID: String) {
        self.store = store
        self.runID = runID
        let thread = Thread { [weak self] in self?.loop() }
        thread.stackSize = 1 << 20
        thread.start()
    }

    func enqueue(_ id: String, _ text: String) throws(DlgError) {
        cond.lock()
        defer { cond.unlock() }
        while queue.count >= limit && failure == nil && !stopped { cond.wait() }
        if let failure { throw failure }
        queue.append((id, text))
        cond.broadcast()
    }

    func flush() throws(DlgError) {
        cond.lock()
        defer { cond.unlock() }
        while (!queue.isEmpty || writing) && failure == nil && !stopped { cond.wait() }
        if let failure { throw failure }
    }

    func stop() { cond.withLock { stopped = true; cond.broadcast() } }

    private func loop() {
        while true {
            cond.lock()
            while queue.isEmpty && !stopped { cond.wait() }
            if queue.isEmpty || failure != nil { cond.unlock(); return }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            writing = true
            cond.unlock()
            // The latest state of each dialogue, at the place it was first seen in the batch.
            var place: [String: Int] = [:]
            var ids: [String] = [], texts: [String] = []
            for (id, text) in batch {
                if let i = place[id] { texts[i] = text; continue }
                place[id] = ids.count
                ids.append(id)
                texts.append(text)
            }
            var error: DlgError?
            do throws(DlgError) {
                try store.db.query(Self.upsertSQL, [.text(runID), .textArray(ids), .textArray(texts)])
            } catch let e {
                error = e
            }
            cond.withLock {
                writing = false
                if let error { failure = error }
                cond.broadcast()
            }
        }
    }
}

extension PostgresStore {
    /// The run's journal rows (conversation id, latest record) in first-seen order, a page at a time.
    public func forEachJournalRecord(runID: String, pageSize: Int = 2000,
                                     _ body: (String, String) throws(DlgError) -> Void) throws(DlgError) {
        var after = 0
        while true {
            let page = try db.query("""
                SELECT first_seen, conversation_id, record FROM dlgforge_journal
                WHERE run_id = $1 AND first_seen > $2 ORDER BY first_seen LIMIT $3
                """, [.text(runID), .int(after), .int(pageSize)])
            for row in page.rows { try body(row[1] ?? "", row[2] ?? "") }
            guard page.count == pageSize, let last = page.rows.last?[0].flatMap({ Int($0) }) else { return }
            after = last
        }
    }
}
