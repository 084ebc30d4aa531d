import Foundation

/// `metrics.json` for a finished run without writing its dataset files again (`dlg-export metrics`):
/// the same completed dialogues, in the same order, through the same `DatasetMetrics`, so the file is
/// the one `StoredRuns.export` writes for that run.
public enum RunMetrics {
    /// What was written: the run, the file, how many dialogues it counts.
    public struct Written: Sendable {
        public var runID: String
        public var path: String
        public var dialogues: Int
    }

    /// Writes `<output_dir>/metrics.json` from run `requested`, else `run.resume_run_id` / `run.run_id`,
    /// else the file store's last run: the database's journal with `store.backend: postgres`, else
    /// `<output_dir>/run_state/<run_id>/journal.jsonl`.
    /// `embedder`: where topic diversity's embeddings come from (nil: `retrieval.embedding_model` on
    /// kb_responder's endpoint, when set).
    public static func write(settings: Settings, runID requested: String?,
                             embedder: EndpointQuestionEmbedder? = nil) async throws(DlgError) -> Written {
        let runID = try chosenRun(settings, requested: requested, database: settings.store.usesPostgres)
        let (journal, completed, _) = try StoredRuns.completedDialogues(settings: settings, runID: runID)
        var metrics = MetricsFile(settings: settings)
        var dialogues = 0
        for p in completed {
            let record = try journal.record(at: p)
            guard Record.status(record) == .completed else { continue }
            metrics.add(record)
            dialogues += 1
        }
        try Files.makeDirectory(settings.outputDir)
        let path = settings.layout.metricsPath
        let figures = await metrics.json(knowledge: KnowledgeBase.inventoryKeys(settings: settings),
                                   embedder: embedder ?? EndpointQuestionEmbedder.forRetrieval(settings))
        try Files.writeAtomically(figures.prettyBytes() + [0x0A], to: path)
        return Written(runID: runID, path: path, dialogues: dialogues)
    }

    /// The run asked for, else the configured one, else (file store) `run_state/last_run_id.txt`.
    static func chosenRun(_ settings: Settings, requested: String?, database: Bool) throws(DlgError) -> String {
        var id = requested ?? RunIDs.configured(resumeRunID: settings.run.resumeRunID, runID: settings.run.runID) ?? ""
        if id.isEmpty && !database {
            id = ((try? Files.readText(settings.layout.lastRunIDPath)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !id.isEmpty else {
            throw DlgError(.noInput, "no run to measure: give --run-id, or set run.run_id\(database ? "" : ", or run first")")
        }
        return try RunLayout.checked(id, "run id")
    }
}
