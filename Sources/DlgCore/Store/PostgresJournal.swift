import Foundation

/// The run journal in PostgreSQL: one row per (run_id, conversation_id) holding the dialogue's
/// latest record, upserted at every state, so a killed run resumes from the database (on this
/// machine or any other that reaches it) exactly as from the journal file. Dialogues that `keep`
/// selects stay in memory; the others are summaries, read back by id when needed.
public final class PostgresJournal: DialogueJournal {
    public let store: PostgresStore
    public let runID: String
    private let keep: (JSONObject) -> Bool
    public private(set) var summaries: [String: DialogueSummary] = [:]
    public private(set) var order: [String] = []
    public private(set) var held: [String: JSONObject] = [:]
    public private(set) var lines = 0

    /// Opens the run's journal, reading every dialogue's latest state in first-seen order.
    public init(store: PostgresStore, runID: String, keep: @escaping (JSONObject) -> Bool) throws(DlgError) {
        self.store = store
        self.runID = runID
        self.keep = keep
        try store.registerRun(runID)
        try store.forEachJournalRecord(runID: runID) { (id: String, text: String) throws(DlgError) in
            guard let r = (try? JSONCodec.parse(text))?.objectValue, Record.id(r) == id else {
                throw DlgError.data("postgres at \(store.db.location): journal row \(runID)/\(id) is not a dialogue record")
            }
            remember(r)
        }
    }

    private func remember(_ r: JSONObject) {
        let summary = DialogueSummary(r, offset: 0, length: 0)
        if summaries.updateValue(summary, forKey: summary.id) == nil { order.append(summary.id) }
        held[summary.id] = keep(r) ? r : nil
        lines += 1
    }

    static let upsertSQL = """
        INSERT INTO dlgforge_journal (run_id, conversation_id, record) VALUES ($1, $2, $3)
        ON CONFLICT (run_id, conversation_id) DO UPDATE SET record = EXCLUDED.record, updated_at = now()
        """

    public func append(_ r: JSONObject) throws(DlgError) {
        try store.db.query(Self.upsertSQL, [.text(runID), .text(Record.id(r)), .text(JSON.object(r).serialized())])
        remember(r)
    }

    public func append(_ r: JSONObject, line: [UInt8]) throws(DlgError) {
        let text = String(decoding: line.last == 0x0A ? line.dropLast() : line[...], as: UTF8.self)
        try store.db.query(Self.upsertSQL, [.text(runID), .text(Record.id(r)), .text(text)])
        remember(r)
    }

    public func record(_ id: String) throws(DlgError) -> JSONObject {
        if let r = held[id] { return r }
        let rows = try store.db.query("SELECT record FROM dlgforge_journal WHERE run_id = $1 AND conversation_id = $2",
                                      [.text(runID), .text(id)])
        guard rows.count == 1, let text = rows[0, 0], let r = (try? JSONCodec.parse(text))?.objectValue else {
            throw DlgError.io("postgres at \(store.db.location): the state of \(runID)/\(id) does not read back as a record")
        }
        return r
    }

    /// Fetched a thousand ids per round trip.
    @discardableResult
    public func writeLatest(_ ids: [String], to target: String) throws(DlgError) -> [(offset: Int, length: Int)] {
        let file = try AtomicFile(target)
        var placed: [(offset: Int, length: Int)] = []
        var offset = 0
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + 1000)])
            start += chunk.count
            let rows = try store.db.query("""
                SELECT conversation_id, record FROM dlgforge_journal WHERE run_id = $1 AND conversation_id = ANY($2::text[])
                """, [.text(runID), .textArray(chunk)])
            var byID: [String: String] = [:]
            for row in rows.rows { byID[row[0] ?? ""] = row[1] }
            for id in chunk {
                guard let text = byID[id] else { throw DlgError.io("postgres at \(store.db.location): no journal row for \(runID)/\(id)") }
                let bytes = Array(text.utf8) + [0x0A]
                try file.write(bytes)
                placed.append((offset, bytes.count))
                offset += bytes.count
            }
        }
        try file.commit()
        return placed
    }

    /// Nothing to drop: the table keeps only the latest state of each dialogue.
    public func compact() throws(DlgError) { lines = order.count }
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
