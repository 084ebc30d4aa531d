import Foundation

/// What `dlg-run --batch-status` and `--batch-cancel` do with a run's batches: read the run's batch
/// record and ask the provider about (or cancel) each batch made from it.
public enum BatchControl {
    /// One batch of a run, as the provider reports it now.
    public struct Row: Sendable, Equatable {
        public var batchID: String
        public var fileID: String
        public var model: String
        public var status: String
        public var total: Int
        public var completed: Int
        public var failed: Int
        /// Why the provider could not be asked (the batch's status is then the recorded one, or "unknown").
        public var problem: String?

        public var json: JSON {
            var o: JSONObject = ["batch_id": .string(batchID), "file_id": .string(fileID), "model": .string(model),
                                 "status": .string(status), "total": .int(total), "completed": .int(completed), "failed": .int(failed)]
            if let problem { o["error"] = .string(problem) }
            return .object(o)
        }
    }

    /// The run's folder of batch records: `run_state/<run_id>/batches`.
    public static func stateDir(runDir: String) -> String { (runDir as NSString).appendingPathComponent(RunLayout.batchesFolder) }

    /// Where a run's stages record their batches: its rows in the store with `store.backend: postgres`
    /// (a run moved to another machine finds them), else `run_state/<run_id>/batches`.
    public static func stateLocation(settings: Settings, runID: String, runDir: String) -> String {
        settings.store.usesPostgres ? BatchRecord.postgresPrefix + runID : stateDir(runDir: runDir)
    }

    static func record(settings: Settings, runID: String) throws(DlgError) -> BatchRecord {
        let runDir = try settings.layout.runDir(runID)
        return BatchRecord(location: stateLocation(settings: settings, runID: runID, runDir: runDir), dsn: settings.llmLayer.batch.postgresDSN)
    }

    /// The run asked about: `requested`, else run.resume_run_id or run.run_id, else the last run.
    public static func runID(settings: Settings, requested: String?) throws(DlgError) -> String {
        if let requested { return try RunLayout.checked(requested, "run id") }
        if let id = RunIDs.configured(resumeRunID: settings.run.resumeRunID, runID: settings.run.runID) {
            return try RunLayout.checked(id, "run id")
        }
        let last = settings.layout.lastRunIDPath
        let id = ((try? Files.readText(last)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !id.isEmpty else { throw DlgError(.noInput, "\(last): no run; give --run-id") }
        return try RunLayout.checked(id, "run id")
    }

    /// Every batch the run made, latest state from the provider.
    public static func status(settings: Settings, runID: String) async -> [Row] {
        await each(settings: settings, runID: runID) { api, id async throws(DlgError) in try await api.batch(id) }
    }

    /// Cancels every batch of the run that has not ended; the rows as the provider answered.
    public static func cancel(settings: Settings, runID: String) async -> [Row] {
        await each(settings: settings, runID: runID) { api, id async throws(DlgError) in
            let now = try await api.batch(id)
            return now.isTerminal ? now : try await api.cancel(id)
        }
    }

    private static func each(settings: Settings, runID: String,
                             _ ask: (BatchAPI, String) async throws(DlgError) -> BatchObject) async -> [Row] {
        let failed = { (e: DlgError) in
            [Row(batchID: "", fileID: "", model: "", status: "unknown", total: 0, completed: 0, failed: 0, problem: e.message)]
        }
        let record: BatchRecord
        do throws(DlgError) { record = try Self.record(settings: settings, runID: runID) } catch { return failed(error) }
        var keys: [String: String] = [:]
        for agent in AgentName.allCases {
            for e in settings.agent(agent).endpoints where keys[e.baseURL] == nil { keys[e.baseURL] = e.apiKey }
        }
        var rows: [Row] = []
        let entries: [BatchRecord.Entry]
        do throws(DlgError) { entries = try record.load() } catch { return failed(error) }
        for entry in entries {
            for batchID in entry.batchIDs {
                var row = Row(batchID: batchID, fileID: entry.fileID, model: entry.model, status: "unknown",
                              total: entry.ids.count, completed: 0, failed: 0)
                let api = BatchAPI(baseURL: entry.baseURL, apiKey: keys[entry.baseURL] ?? "", timeout: 60)
                do throws(DlgError) {
                    let b = try await ask(api, batchID)
                    row.status = b.status
                    row.total = b.total
                    row.completed = b.completed
                    row.failed = b.failed
                } catch {
                    if batchID == entry.batchIDs.last, let s = entry.status { row.status = s }
                    row.problem = error.message
                }
                rows.append(row)
            }
        }
        return rows
    }
}
