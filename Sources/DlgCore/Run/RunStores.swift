import Foundation
import Logging

extension RunOrchestrator {
    /// The database store when the settings name one (nil: the run's state stays in files; said once
    /// in the log when `postgres` was configured without a DSN).
    func openStore() throws(DlgError) -> PostgresStore? {
        if let note = settings.store.fileFallbackNote { log.info("\(note)") }
        guard let store = try StoreFactory.postgres(settings) else { return nil }
        log.info("run state in postgres at \(store.db.location)")
        return store
    }
}

/// What a store holds of finished and unfinished runs, for `dlg-run --list-runs` and `dlg-export --run-id`.
public enum StoredRuns {
    /// One JSON object per run: the database's runs table, or the run folders under
    /// `<output_dir>/run_state/` for the file store.
    public static func list(settings: Settings) throws(DlgError) -> [JSONObject] {
        if let pg = try StoreFactory.postgres(settings) {
            return try pg.runs().map {
                JSONObject([("run_id", .string($0.runID)), ("store", "postgres"), ("created", .string($0.created)),
                            ("updated", .string($0.updated)), ("dialogues", .int($0.dialogues)),
                            ("questions", .int($0.questions))])
            }
        }
        let layout = settings.layout
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.stateRoot)) ?? []
        return names.sorted().compactMap { name -> JSONObject? in
            guard let journal = try? layout.journal(name), Files.exists(journal) else { return nil }
            return JSONObject([("run_id", .string(name)), ("store", "file"), ("journal", .string(journal))])
        }
    }

    /// Writes the dataset files from the completed dialogues of run `runID` as the run does at its
    /// end: from the database's journal (and its coverage ledger) with `store.backend: postgres`, else
    /// from `<output_dir>/run_state/<run_id>/journal.jsonl`.
    public static func export(settings: Settings, runID: String) async throws(DlgError) -> ExportSummary {
        let (journal, completed, pg) = try completedDialogues(settings: settings, runID: runID)
        let session = try ExportSession(settings: settings, embedder: EndpointQuestionEmbedder.forRetrieval(settings))
        session.knowledge = KnowledgeBase.inventoryKeys(settings: settings)
        for p in completed { try session.add(try journal.record(at: p)) }
        if let pg { try pg.writeLedger(runID: runID, to: settings.ledgerPath) }
        return try await session.finish()
    }

    /// Run `runID`'s journal (the database's with `store.backend: postgres`, else
    /// `<output_dir>/run_state/<run_id>/journal.jsonl`) and the positions of its completed dialogues in
    /// the dataset's order: what the export and `dlg-export metrics` read, the same way.
    static func completedDialogues(settings: Settings, runID: String) throws(DlgError)
        -> (journal: any DialogueJournal, completed: [Int], store: PostgresStore?)
    {
        let journal: any DialogueJournal
        let pg = try StoreFactory.postgres(settings)
        if let pg {
            journal = try PostgresJournal(store: pg, runID: runID, keep: { _ in false })
            guard journal.index.count > 0 else {
                throw DlgError(.noInput, "postgres at \(pg.db.location): no dialogues for run \(runID) (--list-runs shows the runs the store holds)")
            }
        } else {
            let path = try settings.layout.journal(runID)
            guard Files.exists(path) else { throw DlgError(.noInput, "\(path): no such run journal") }
            journal = try RunJournal(path: path, keep: { _ in false })
        }
        let index = journal.index
        let completed = index.sorted((0..<index.count).filter { index.status(at: $0) == .completed },
                                     languages: settings.run.targetLanguages)
        return (journal, completed, pg)
    }
}
