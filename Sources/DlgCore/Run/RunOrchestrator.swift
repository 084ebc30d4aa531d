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

    public struct Totals: Sendable {
        public var completed: [String: Int] = [:]
        public var dropped: [String: Int] = [:]
        public var turns = 0
        public var judgeScores: [Double] = []
        public var usage = TokenUsage()
    }

    public init(settings: Settings, configPath: String, toolsDir: String) {
        self.settings = settings
        self.configPath = configPath
        self.toolsDir = toolsDir
        log = DlgLog.logger("dlg.run", logsDir: settings.logsDir, file: "run.log")
    }

    /// Dialogues of a language finishing one after the other without a completed one before the run
    /// stops (exit 75): at least this many, and at least twice the batch. A short streak of drops is
    /// bad luck (duplicates, a weak model); a long one means the run cannot make progress, and going on
    /// would only spend tokens.
    static let minDropStreak = 12

    var dropStreakLimit: Int { max(Self.minDropStreak, 2 * settings.run.batchSize) }

    var stateRoot: String { (settings.outputDir as NSString).appendingPathComponent("run_state") }

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
        if !settings.run.resumeRunID.isEmpty { return settings.run.resumeRunID }
        return settings.run.runID.isEmpty ? nil : settings.run.runID
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

    static let journalName = "journal.jsonl"
    static let finishedName = "finished.jsonl"

    public func run(runID base: String) async throws(DlgError) -> Totals {
        let dir = (stateRoot as NSString).appendingPathComponent(base)
        try Files.makeDirectory(dir)
        Files.removeStaleTemporaries(in: dir)
        Files.removeStaleTemporaries(in: stateRoot)
        let statePath = (stateRoot as NSString).appendingPathComponent("\(base).json")
        if let previous = try? JSONCodec.parse(Files.read(statePath)),
           let b = previous["batch_size"]?.intValue, b != settings.run.batchSize {
            throw DlgError.config("\(configPath): run.batch_size: \(settings.run.batchSize) does not match the saved run \(base) (batch_size \(b)); use the same batch size to resume, or a new run id")
        }
        try Files.writeAtomically(base + "\n", to: (stateRoot as NSString).appendingPathComponent("last_run_id.txt"))
        let book = try RunBook(settings: settings, base: base,
                               journalPath: (dir as NSString).appendingPathComponent(Self.journalName),
                               dropStreakLimit: dropStreakLimit, log: log)
        log.info("run \(base) \(book.journal.lines > 0 ? "resumed" : "started"): languages=\(settings.run.targetLanguages) total_samples=\(settings.run.totalSamples) batch_size=\(settings.run.batchSize)")
        let stateWriter = { [self] (status: String) throws(DlgError) in
            try writeState(statePath, base: base, status: status, entries: book.allSummaries.map(Self.stateEntry))
        }
        var lastSave = Date()
        var failure: DlgError?
        let initial = try book.resumable() + book.admissions()
        if !initial.isEmpty {
            let loop = try StageLoop(stages: stageCommands())
            let alreadyInterrupted = interruption.withLock { () -> Bool in
                activeLoop = loop
                return interruptedBy != nil
            }
            if alreadyInterrupted { loop.terminate() }
            let progress = RunProgress(book: book)
            loop.send(initial.map(Self.line))
            let reader = LineReader(fd: loop.outputDescriptor, name: "dlg-judge output")
            do throws(DlgError) {
                while let line = try reader.next() {
                    guard let r = (try? JSONCodec.parse(Array(line)))?.objectValue, RecordCheck.problem(r) == nil else {
                        throw DlgError(.software, "dlg-judge wrote a line that is not a dialogue record: \(String(decoding: line.prefix(200), as: UTF8.self))")
                    }
                    var bytes = Array(line)
                    bytes.append(0x0A)
                    let (again, admitted) = try book.receive(r, line: bytes)
                    // A dialogue going round again is sent back as the bytes it came in.
                    loop.send((again ? [bytes] : []) + admitted.map(Self.line))
                    progress?.update()
                    if book.isDone { loop.closeInput() }
                    // The dataset files are rewritten whole, so during the run only every 30 s.
                    if Date().timeIntervalSince(lastSave) > 30 {
                        _ = try exportCompleted(book)
                        try stateWriter("in_progress")
                        lastSave = Date()
                    }
                }
            } catch {
                failure = error
                loop.terminate()
            }
            let statuses = loop.wait()
            progress?.end()
            interruption.withLock { activeLoop = nil }
            // A signal that came once every dialogue was finished stops nothing: the run ends normally.
            if let signal = interruption.withLock({ interruptedBy }), !book.isDone {
                try? stateWriter("in_progress")
                log.warning("run \(base) interrupted by signal \(signal)")
                throw DlgError(.interrupted, "interrupted; every dialogue is checkpointed in \((dir as NSString).appendingPathComponent(Self.journalName)); run again with --run-id \(base) to resume")
            }
            if let failure {
                try? stateWriter("in_progress")
                throw failure
            }
            if !book.isDone {
                try stateWriter("in_progress")
                // 69 means a stage lost the LLM server: the journal holds every dialogue where it was.
                if let u = statuses.firstIndex(of: DlgError.Code.unavailable.rawValue) {
                    throw DlgError.unavailable("\(loop.names[u]): the LLM server became unavailable; progress so far is checkpointed, run again with the same run id to resume")
                }
                if let i = statuses.firstIndex(where: { $0 != 0 }) {
                    let code = DlgError.Code(rawValue: statuses[i]) ?? .software
                    throw DlgError(code, "\(loop.names[i]) exited with status \(statuses[i]); every dialogue is checkpointed where it was, run again to resume")
                }
                throw DlgError(.software, "the stages ended with \(book.inFlight) dialogue(s) still in the loop")
            }
            if let i = statuses.firstIndex(where: { $0 != 0 }) {
                log.warning("\(loop.names[i]) exited with status \(statuses[i]) after the last dialogue finished")
            }
        }
        let finished = book.finishedSummaries
        try book.journal.writeLatest(finished.map(\.id), to: (dir as NSString).appendingPathComponent(Self.finishedName))
        // A finished run needs one state per dialogue to resume or re-judge from; the superseded ones
        // (a line per turn per dialogue) would otherwise stay on disk for good.
        try book.journal.compact()
        _ = try exportCompleted(book)
        try stateWriter("completed")
        return Self.totals(finished)
    }

    /// The dataset files from the completed dialogues, read back one at a time from the journal.
    func exportCompleted(_ book: RunBook) throws(DlgError) -> Exporter.Summary {
        let session = try ExportSession(exporter: Exporter(settings: settings))
        for s in book.completedSummaries { try session.add(try book.journal.record(s.id)) }
        return try session.finish()
    }

    /// The four stages of the loop, each unordered (a record leaves a stage the moment it is done) and
    /// with room for every dialogue in flight.
    func stageCommands() -> [[String]] {
        let shared = ["--config", configPath, "--unordered", "--concurrency", String(settings.run.batchSize)]
        return ["dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge"].map { [tool($0)] + shared }
    }

    static func line(_ r: JSONObject) -> [UInt8] {
        var bytes: [UInt8] = []
        JSON.object(r).write(into: &bytes)
        bytes.append(0x0A)
        return bytes
    }


    static func totals(_ finished: [DialogueSummary]) -> Totals {
        var totals = Totals()
        for s in finished {
            switch s.status {
            case "completed":
                totals.completed[s.language, default: 0] += 1
                totals.turns += s.turns
                totals.judgeScores += s.scores
            case "dropped":
                totals.dropped[s.dropReason.stringValue ?? "unknown", default: 0] += 1
            default: break
            }
            totals.usage += s.usage
        }
        return totals
    }

    /// The judge-only pass: the run's finished dialogues through `dlg-judge --offline --force` into
    /// `judged.jsonl` beside them, then the dataset files rewritten from the judged records.
    public func judgeOnly(runID requested: String?) throws(DlgError) -> Int {
        var id = requested ?? configuredRunID ?? ""
        if id.isEmpty {
            let last = (stateRoot as NSString).appendingPathComponent("last_run_id.txt")
            id = ((try? Files.readText(last)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !id.isEmpty else { throw DlgError(.noInput, "\(stateRoot): no run to judge; give --run-id or run first") }
        let dir = (stateRoot as NSString).appendingPathComponent(id)
        let finishedPath = (dir as NSString).appendingPathComponent(Self.finishedName)
        let journalPath = (dir as NSString).appendingPathComponent(Self.journalName)
        if !Files.exists(finishedPath) {
            // An unfinished run: judge the dialogues it finished so far.
            guard Files.exists(journalPath) else { throw DlgError(.noInput, "\(dir): no dialogues to judge") }
            let journal = try RunJournal(path: journalPath, keep: { Record.status($0) == "active" })
            let finished = RunBook.sorted(journal.allSummaries.filter { $0.status != "active" }, settings: settings)
            guard !finished.isEmpty else { throw DlgError(.noInput, "\(dir): no finished dialogues to judge") }
            try journal.writeLatest(finished.map(\.id), to: finishedPath)
        }
        let judged = (dir as NSString).appendingPathComponent("judged.jsonl")
        try runTool([tool("dlg-judge"), "--config", configPath, "--offline", "--force"], input: finishedPath, output: judged)
        // Streamed from the judged file: a run of any size is exported one dialogue at a time.
        let fd = open(judged, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DlgError.io("\(judged): cannot open") }
        defer { close(fd) }
        let session = try ExportSession(exporter: Exporter(settings: settings))
        let count = try session.add(from: LineReader(fd: fd, name: judged)) { (number: Int, problem: String) throws(DlgError) in
            throw DlgError.data("\(judged):\(number): not a dialogue record: \(problem)")
        }
        _ = try session.finish()
        return count
    }

    static func stateEntry(_ s: DialogueSummary) -> JSON {
        .obj([
            "conversation_index": s.index, "conversation_id": .string(s.id), "language": .string(s.language),
            "target_n_turns": .int(s.targetTurns), "status": .string(s.status), "drop_reason": s.dropReason,
            "n_turns": .int(s.turns),
        ])
    }

    func writeState(_ path: String, base: String, status: String, entries conversations: [JSON]) throws(DlgError) {
        let state = JSON.obj([
            "run_id": .string(base), "status": .string(status), "updated_at": .string(Timestamps.isoZ()),
            "n_turns": .int(settings.run.maxTurns), "batch_size": .int(settings.run.batchSize),
            "target_languages": JSON(settings.run.targetLanguages), "total_samples": .int(settings.run.totalSamples),
            "conversations": .array(conversations),
        ])
        try Files.writeAtomically(state.pretty() + "\n", to: path)
    }


    func tool(_ name: String) -> String { (toolsDir as NSString).appendingPathComponent(name) }

    /// Runs one tool from the file `input` into a temporary file renamed to `output` once it exits 0
    /// (or 69: the records it could not reach the server for are written back unchanged, so the output
    /// is still whole; the caller then stops with "unavailable").
    func runTool(_ args: [String], input: String, output: String) throws(DlgError) {
        let tmp = "\(output).tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: nil),
              let outHandle = FileHandle(forWritingAtPath: tmp) else {
            throw DlgError.io("\(tmp): cannot create")
        }
        defer { try? outHandle.close() }
        guard let inHandle = FileHandle(forReadingAtPath: input) else { throw DlgError.io("\(input): cannot open") }
        defer { try? inHandle.close() }
        let name = (args[0] as NSString).lastPathComponent
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        p.standardInput = inHandle
        p.standardOutput = outHandle
        p.standardError = FileHandle.standardError
        // Foundation's waitUntilExit polls a run loop that has no sources here and spins a CPU for as
        // long as the tool runs; a termination handler and a group wait instead.
        let exited = DispatchGroup()
        exited.enter()
        p.terminationHandler = { _ in exited.leave() }
        do { try p.run() } catch { throw DlgError.io("cannot start \(name): \(error)") }
        exited.wait()
        let status = p.terminationStatus
        guard status == 0 || status == DlgError.Code.unavailable.rawValue else {
            unlink(tmp)
            throw DlgError(DlgError.Code(rawValue: status) ?? .software, "\(name) exited with status \(status); \(input) is unchanged, run again")
        }
        outHandle.synchronizeFile()
        if rename(tmp, output) != 0 { throw DlgError.io("\(output): rename failed") }
        if status != 0 {
            throw DlgError.unavailable("\(name): the LLM server became unavailable; what it judged is in \(output), run again to judge the rest")
        }
    }

    /// The summary printed at the end and written to the run log.
    public func summary(runID: String, totals: Totals) -> JSON {
        let mean: JSON = totals.judgeScores.isEmpty ? .null
            : .double((totals.judgeScores.reduce(0, +) / Double(totals.judgeScores.count) * 100).rounded() / 100)
        var completed = JSONObject()
        for (k, v) in totals.completed.sorted(by: { $0.key < $1.key }) { completed[k] = .int(v) }
        var dropped = JSONObject()
        for (k, v) in totals.dropped.sorted(by: { $0.key < $1.key }) { dropped[k] = .int(v) }
        return .obj([
            "run_id": .string(runID), "completed": .object(completed),
            "dialogues": .int(totals.completed.values.reduce(0, +)), "turns": .int(totals.turns),
            "dropped": .object(dropped), "mean_judge_score": mean, "tokens": totals.usage.json,
            "wall_seconds": .double((Date().timeIntervalSince(started) * 10).rounded() / 10),
            "output_dir": .string(settings.outputDir),
        ])
    }
}
