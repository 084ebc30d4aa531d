import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The run: `run.batch_size` dialogues in flight at any time, streamed round one long-lived
/// `dlg-gen | dlg-dedup | dlg-respond | dlg-judge` loop (`StageLoop`) until `run.total_samples`
/// dialogues of each language in `run.target_languages` are completed. A dialogue that finishes
/// (completed or dropped) makes room for a new one at once, so no dialogue waits for another (the
/// waves of DESIGN.md, without their barrier). Every state a dialogue reaches is appended to the
/// run's journal under `outputs/run_state/<run_id>/`, so a run killed at any moment resumes from
/// where each dialogue was.
public final class RunOrchestrator {
    let settings: Settings
    let configPath: String
    let toolsDir: String
    let log: Logger
    let started = Date()
    /// Set by `interrupt()`; the loop of the run in progress, to stop.
    private let interruption = NSLock()
    private var interruptedBy: Int32?
    private var activeLoop: StageLoop?
    /// The run's wall time once `run` finished it (what the summary and `logs/runs.jsonl` say).
    private(set) var wallSeconds: Double?

    /// Hears how the run goes (a progress line); nil for none.
    public weak var observer: (any RunObserver)?

    /// The part of the run this process does (`dlg-run --shard I/N`); nil for the whole run. A shard
    /// needs the PostgreSQL store and leaves the run's files (dataset, ledger, run state) to
    /// `dlg-export --run-id`, which `dlg-cluster run` calls once every shard is done.
    public var shard: RunShard?

    /// Seconds between checkpoints of the dataset files and the run state file during the run.
    public var checkpointInterval: TimeInterval = 30

    /// Variables the stages get beyond this process's environment (a dry run's sample: its own).
    public var stageEnvironment: [String: String] = [:]

    public init(settings: Settings, configPath: String, toolsDir: String) {
        self.settings = settings
        self.configPath = configPath
        self.toolsDir = toolsDir
        log = DlgLog.logger("dlg.run", logsDir: settings.logsDir, file: RunLayout.runLog)
    }

    /// Dialogues of a language finishing one after the other without a completed one before the run
    /// stops (exit 75): at least this many, and at least twice the batch. A short streak of drops is
    /// bad luck (duplicates, a weak model); a long one means the run cannot make progress, and going on
    /// would only spend tokens.
    static let minDropStreak = 12

    var dropStreakLimit: Int { max(Self.minDropStreak, 2 * settings.run.batchSize) }

    var layout: RunLayout { settings.layout }
    var stateRoot: String { layout.stateRoot }

    /// Stops a run in progress (dlg-run calls it on SIGINT or SIGTERM): the stages are terminated,
    /// and `run` then throws `interrupted` after saving the run state. Every dialogue is in the journal
    /// where it was, so running again with the same run id resumes.
    public func interrupt(signal: Int32) {
        let loop: StageLoop? = interruption.withLock {
            if interruptedBy == nil { interruptedBy = signal }
            return activeLoop
        }
        loop?.terminate()
    }

    /// The run id: `run.resume_run_id`, else `run.run_id`, else a new random id.
    public func runID() -> String { configuredRunID ?? RunIDs.random() }

    /// `run.resume_run_id`, else `run.run_id`, if either is set.
    var configuredRunID: String? {
        RunIDs.configured(resumeRunID: settings.run.resumeRunID, runID: settings.run.runID)
    }

    /// Checks every endpoint the run needs answers `/models`; names the one that does not (exit 69).
    public func preflight(client: LLMClient) async throws(DlgError) {
        var agents: [AgentName] = [.qaGenerator, .kbResponder]
        if settings.judge.online { agents.append(.qaJudge) }
        for a in agents { try settings.requireAgent(a) }
        var checked = Set<String>()
        for a in agents {
            for e in settings.agent(a).endpoints where !checked.contains(e.baseURL) {
                checked.insert(e.baseURL)
                if let problem = await client.checkModels(e) {
                    throw DlgError.unavailable("LLM endpoint \(e.name) (\(e.baseURL)) used by \(a.rawValue) is not reachable: \(problem); check llm.base_url and that the server is running")
                }
            }
        }
    }

    /// The run `base` from where its journal stands to its end; the run's time is then a line of
    /// `logs/runs.jsonl` (`RunTimings`), what the report reads.
    public func run(runID base: String) async throws(DlgError) -> RunTotals {
        let totals = try await runToEnd(runID: base)
        wallSeconds = (Date().timeIntervalSince(started) * 10).rounded() / 10
        // Like a log line: a run that did its work does not fail for want of it.
        try? RunTimings.append(layout: layout, runID: base, shard: shard, wallSeconds: wallSeconds!, batch: batchFacts(totals))
        return totals
    }

    func runToEnd(runID base: String) async throws(DlgError) -> RunTotals {
        let (dir, store, book) = try openRun(base)
        let statePath = try layout.runStateFile(base)
        let stateWriter = { [self] (status: String) throws(DlgError) in
            try book.journal.flush()
            if shard != nil { return }
            try writeState(statePath, base: base, status: status, index: book.journal.index, positions: book.ownPositions)
        }
        let initial = try book.resumable() + book.admissions()
        if !initial.isEmpty {
            try await runLoop(book, initial: initial, base: base, dir: dir, usesStore: store != nil, stateWriter: stateWriter)
        }
        if shard != nil {
            // The run's files are written once, from the database, when every shard is done.
            try book.journal.flush()
            return book.totals
        }
        try book.journal.writeLatest(book.finishedPositions, to: try layout.finished(base))
        // A finished run needs one state per dialogue to resume or re-judge from; the superseded ones
        // (a line per turn per dialogue) would otherwise stay on disk for good.
        try book.journal.compact()
        // The database's accepted questions become the run's coverage_ledger.jsonl, as the file store's.
        if let store { try store.writeLedger(runID: base, to: settings.ledgerPath) }
        _ = try await exportCompleted(book)
        // Upstream's outputs always hold the ledger, even for a run that accepted no question here
        // (every dialogue was finished before a resume).
        if !Files.exists(settings.ledgerPath) { try Files.writeAtomically([], to: settings.ledgerPath) }
        try stateWriter("completed")
        return book.totals
    }

    /// The run's folder made ready (stale temporaries gone, the saved batch size checked, the last run
    /// id written), its store and its book opened on the journal.
    func openRun(_ base: String) throws(DlgError) -> (dir: String, store: PostgresStore?, book: RunBook) {
        let dir = try layout.runDir(base)
        try Files.makePrivateDirectory(stateRoot)
        try Files.makeDirectory(dir)
        Files.removeStaleTemporaries(in: dir)
        Files.removeStaleTemporaries(in: stateRoot)
        if let shard, !settings.store.usesPostgres {
            throw DlgError.config("\(configPath): store.backend: shard \(shard.description) needs store.backend: postgres (the shards share its dedup, ledger and journal)")
        }
        if shard == nil, let previous = try? JSONCodec.parse(Files.read(try layout.runStateFile(base))),
           let b = previous["batch_size"]?.intValue, b != settings.run.batchSize {
            throw DlgError.config("\(configPath): run.batch_size: \(settings.run.batchSize) does not match the saved run \(base) (batch_size \(b)); use the same batch size to resume, or a new run id")
        }
        if shard == nil {
            try Files.writeAtomically(base + "\n", to: layout.lastRunIDPath)
        }
        let store = try openStore()
        let book = try RunBook(settings: settings, base: base,
                               journalPath: try layout.journal(base),
                               store: store, dropStreakLimit: dropStreakLimit, shard: shard, log: log)
        log.info("run \(base) \(book.journal.lines > 0 ? "resumed" : "started"): languages=\(settings.run.targetLanguages) total_samples=\(settings.run.totalSamples) batch_size=\(settings.run.batchSize)")
        return (dir, store, book)
    }

    /// The stage loop from `initial` until the book is done, the stages stop, or a signal comes; throws
    /// why it ended early, the run state saved.
    func runLoop(_ book: RunBook, initial: [JSONObject], base: String, dir: String, usesStore: Bool,
                 stateWriter: (String) throws(DlgError) -> Void) async throws(DlgError) {
        // The run's limits, shared by its stages (max_in_flight, rate limits, adaptive concurrency,
        // what an endpoint refuses); a shard holds its share of them.
        let broker = try LimitBroker(path: LimitBroker.socketPath(runDir: dir), layer: settings.llmLayer,
                                     shards: shard?.count ?? 1, logsDir: settings.logsDir)
        defer { broker.stop() }
        let loop = try StageLoop(stages: stageCommands(runID: usesStore ? base : nil),
                                 extraEnvironment: stageEnvironment.merging([LLMLayerSettings.limitsSocketVariable: broker.path,
                                                    BatchAPISettings.stateVariable: BatchControl.stateLocation(settings: settings, runID: base, runDir: dir)]) { $1 })
        let alreadyInterrupted = interruption.withLock { () -> Bool in
            activeLoop = loop
            return interruptedBy != nil
        }
        if alreadyInterrupted { loop.terminate() }
        loop.send(initial.map(Self.line))
        var failure: DlgError?
        do throws(DlgError) {
            try feed(book, loop: loop, broker: broker, base: base, stateWriter: stateWriter)
        } catch {
            failure = error
            loop.terminate()
        }
        // The last stage's output ended with dialogues still in the loop: a stage stopped (its status
        // says why). The stages before it may be idle, waiting on their input, and would wait forever:
        // stop them too (their records are in the journal).
        if failure == nil && !book.isDone { loop.terminate() }
        let statuses = await loop.wait()
        observer?.runLoopEnded()
        interruption.withLock { activeLoop = nil }
        // A signal that came once every dialogue was finished stops nothing: the run ends normally.
        if let signal = interruption.withLock({ interruptedBy }), !book.isDone {
            try? stateWriter("in_progress")
            log.warning("run \(base) interrupted by signal \(signal)")
            let batches = settings.llmLayer.batch.enabled ? "; batches in flight keep running at the provider (dlg-run --batch-status shows them) and the run picks them up" : ""
            throw DlgError(.interrupted, "interrupted; every dialogue is checkpointed in \((try? layout.journal(base)) ?? dir)\(batches); run again with --run-id \(base) to resume")
        }
        if let failure {
            try? stateWriter("in_progress")
            throw failure
        }
        if !book.isDone {
            try stateWriter("in_progress")
            throw Self.stoppedEarly(statuses, names: loop.names, inFlight: book.inFlight)
        }
        if let i = statuses.firstIndex(where: { $0 != 0 }) {
            log.warning("\(loop.names[i]) exited with status \(statuses[i]) after the last dialogue finished")
        }
    }

    /// Reads the loop's output until it ends: each record to the book, what goes round again (or is
    /// admitted) back into the loop; every `checkpointInterval` the dataset files get the dialogues
    /// completed since (fsynced: a commit point) and the run state is saved.
    func feed(_ book: RunBook, loop: StageLoop, broker: LimitBroker, base: String,
              stateWriter: (String) throws(DlgError) -> Void) throws(DlgError) {
        var lastSave = Date()
        // The dataset files during the run: appended with the dialogues completed since the last checkpoint.
        var appender: DatasetAppend?
        var completedSinceSave: [String] = []
        let reader = LineReader(fd: loop.outputDescriptor, name: "\(loop.names.last ?? "stage loop") output")
        while let line = try reader.next() {
            // What the book reads of the turns is their verdicts (the journal's summary); the
            // line itself is what is journaled and sent round again.
            guard case .success(let read) = RecordLine.parse(Array(line), view: Self.bookView) else {
                throw DlgError(.software, "\(loop.names.last ?? "the stage loop") wrote a line that is not a dialogue record: \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
            let r = read.record
            let bytes = read.bytesWithNewline()
            let (again, admitted) = try book.receive(r, line: bytes)
            if !again && Record.status(r) == .completed { completedSinceSave.append(Record.id(r)) }
            // A dialogue going round again is sent back as the bytes it came in.
            loop.send((again ? [bytes] : []) + admitted.map(Self.line))
            if let observer {
                var snapshot = book.snapshot
                snapshot.endpointLimits = broker.states()
                observer.runAdvanced(snapshot)
            }
            if book.isDone { loop.closeInput() }
            guard Date().timeIntervalSince(lastSave) > checkpointInterval else { continue }
            // Where the run stands, for whoever watches the log instead of a terminal.
            log.info("\(book.snapshot.plainText)")
            if shard == nil {
                try appendCompleted(book, to: &appender, base: base, ids: completedSinceSave)
                completedSinceSave = []
            }
            let stateStart = Date()
            try stateWriter("in_progress")
            if shard == nil {
                log.info("run state file: \(book.journal.index.count) dialogue(s) in \(Int(Date().timeIntervalSince(stateStart) * 1000)) ms")
            }
            lastSave = Date()
        }
    }

    /// Why the stages ended with dialogues still in the loop, from their exit statuses.
    static func stoppedEarly(_ statuses: [Int32], names: [String], inFlight: Int) -> DlgError {
        // 69 means a stage lost the LLM server: the journal holds every dialogue where it was.
        if let u = statuses.firstIndex(of: DlgError.Code.unavailable.rawValue) {
            return DlgError.unavailable("\(names[u]): the LLM server became unavailable; progress so far is checkpointed, run again with the same run id to resume")
        }
        // 75 means a stage stopped on an error storm (its message above names the endpoint and error).
        if let t = statuses.firstIndex(of: DlgError.Code.tempFail.rawValue) {
            return DlgError(.tempFail, "\(names[t]) stopped on an error storm of the LLM server (see its message above and logs/llm.log); every dialogue is checkpointed where it was, run again with the same run id to resume")
        }
        // The stage that stopped first, not the ones dlg-run then terminated (128 + SIGTERM).
        if let i = statuses.firstIndex(where: { $0 != 0 && $0 != 128 + SIGTERM })
            ?? statuses.firstIndex(where: { $0 != 0 }) {
            let code = DlgError.Code(rawValue: statuses[i]) ?? .software
            return DlgError(code, "\(names[i]) exited with status \(statuses[i]); every dialogue is checkpointed where it was, run again to resume")
        }
        return DlgError(.software, "the stages ended with \(inFlight) dialogue(s) still in the loop")
    }

    /// Appends the dialogues completed since the last checkpoint to the dataset files (`DatasetAppend`).
    /// The first checkpoint of a process opens the files at the run's commit point and adds every
    /// completed dialogue they do not hold (all of them for a new run; those of a resumed run's
    /// last minutes before it stopped): once per process, then only the new ones.
    func appendCompleted(_ book: RunBook, to appender: inout DatasetAppend?, base: String, ids: [String]) throws(DlgError) {
        if appender == nil {
            let opened = try DatasetAppend(settings: settings, runID: base)
            let index = book.journal.index
            for p in book.completedPositions where !opened.holds(index.id(at: p)) { try opened.add(try book.journal.record(at: p)) }
            appender = opened
        } else if let appender {
            for id in ids where !appender.holds(id) { try appender.add(try book.journal.record(id)) }
        }
        try appender?.commit()
    }

    /// The dataset files from the completed dialogues, read back one at a time from the journal.
    func exportCompleted(_ book: RunBook) async throws(DlgError) -> ExportSummary {
        let session = try ExportSession(settings: settings, embedder: EndpointQuestionEmbedder.forRetrieval(settings))
        session.knowledge = KnowledgeBase.inventoryKeys(settings: settings)
        for p in book.completedPositions { try session.add(try book.journal.record(at: p)) }
        return try await session.finish()
    }

    /// The four stages of the loop, each with room for every dialogue in flight; dlg-dedup is told the
    /// run id when the store is the database.
    func stageCommands(runID: String? = nil) -> [[String]] {
        StageCommand.loop(config: configPath, inFlight: settings.run.batchSize,
                          noCache: !settings.llmLayer.cache.enabled).map { command in
            var c = command
            if c.tool == .dedup { c.runID = runID }
            return c.arguments(toolsDir: toolsDir)
        }
    }

    /// What `RunBook` and the journal's summary read of a record's turns: their verdicts. The record
    /// the journal then holds for a dialogue in flight has only these of its turns; a resumed run
    /// reads the whole records from the journal's file.
    static let bookView = TurnView(fields: ["qa_judge"])

    static func line(_ r: JSONObject) -> [UInt8] {
        var bytes: [UInt8] = []
        JSON.object(r).write(into: &bytes)
        bytes.append(0x0A)
        return bytes
    }


}
