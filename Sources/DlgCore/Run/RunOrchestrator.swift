import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The run: for each language, waves of `run.batch_size` dialogues until `run.total_samples` are
/// completed; each wave loops `dlg-gen | dlg-dedup | dlg-respond | dlg-judge` until nothing is active.
/// Every pass's output is a checkpoint file under `outputs/run_state/<run_id>/`, written to a temporary
/// name and renamed, so a run killed at any moment resumes from the last finished pass.
public final class RunOrchestrator {
    let settings: Settings
    let configPath: String
    let toolsDir: String
    let log: LogFile?
    let started = Date()

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
        log = LogFile(logsDir: settings.logsDir, file: "run.log", name: "dlg.run")
    }

    /// Consecutive waves without a completed dialogue before the run stops, and the dialogues they must
    /// have held together: the last waves of a language are small (only the remaining count), and two
    /// or three dialogues can all be lost by chance.
    static let maxEmptyWaves = 3
    static let minEmptyDialogues = 6

    var stateRoot: String { (settings.outputDir as NSString).appendingPathComponent("run_state") }

    /// The run id: `run.resume_run_id`, else `run.run_id`, else a new random id.
    public func runID() -> String {
        if !settings.run.resumeRunID.isEmpty { return settings.run.resumeRunID }
        if !settings.run.runID.isEmpty { return settings.run.runID }
        return RunIDs.random()
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

    static func sanitize(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }

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
        log?.info("run \(base) started: languages=\(settings.run.targetLanguages) total_samples=\(settings.run.totalSamples) batch_size=\(settings.run.batchSize)")
        var totals = Totals()
        // Completed dialogues and the run state's entries, kept as the waves finish so nothing is read twice.
        var exported: [JSONObject] = []
        var stateEntries: [JSON] = []
        var lastExport = Date()
        for lang in settings.run.targetLanguages {
            let langRun = "\(base)-\(Self.sanitize(lang))"
            var completed = 0
            var wave = 0
            var emptyWaves = 0
            var emptyDialogues = 0
            // Slots count per language: persona cycling and seed questions start afresh for each.
            var slot = 0
            while completed < settings.run.totalSamples {
                let waveID = wave == 0 ? langRun : "\(langRun)-\(String(format: "%04d", wave))"
                let size = min(settings.run.batchSize, settings.run.totalSamples - completed)
                let final = try await runWave(dir: dir, waveID: waveID, language: lang, size: size, slot: slot)
                let records = try Self.readRecords(final)
                var waveCompleted = 0
                var reasons: [String: Int] = [:]
                let waveFile = (final as NSString).lastPathComponent
                for r in records {
                    stateEntries.append(Self.stateEntry(r, waveFile: waveFile))
                    switch Record.status(r) {
                    case "completed":
                        exported.append(r)
                        waveCompleted += 1
                        totals.turns += Record.turns(r).count
                        for t in Record.turns(r) { if let s = t["qa_judge"]?["score"]?.doubleValue { totals.judgeScores.append(s) } }
                        if let s = r["conversation_judge"]?["score"]?.doubleValue { totals.judgeScores.append(s) }
                    case "dropped": reasons[r["drop_reason"]?.stringValue ?? "unknown", default: 0] += 1
                    default: break
                    }
                    totals.usage += TokenUsage(json: r["usage"])
                }
                for (k, v) in reasons { totals.dropped[k, default: 0] += v }
                // A short wave can lose all its dialogues to duplicates by bad luck; several empty waves
                // in a row mean the run cannot make progress, and looping would only spend tokens.
                emptyWaves = waveCompleted == 0 ? emptyWaves + 1 : 0
                emptyDialogues = waveCompleted == 0 ? emptyDialogues + size : 0
                if emptyWaves >= Self.maxEmptyWaves && emptyDialogues >= Self.minEmptyDialogues {
                    let why = reasons.map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", ")
                    throw DlgError(.tempFail, "\(emptyWaves) waves in a row (\(emptyDialogues) dialogues) up to \(waveID) completed no dialogue (last one \(why.isEmpty ? "generated nothing" : "dropped: " + why)); stopping instead of looping. See logs/run.log and logs/llm.log; raising coverage.question_dedup_retries helps when the drops are dedup_exhausted")
                }
                completed += waveCompleted
                totals.completed[lang, default: 0] += waveCompleted
                slot += size
                wave += 1
                // The dataset files are rewritten whole; every wave would make that quadratic, so between
                // waves only every 30 s (the end of the run always writes them).
                if Date().timeIntervalSince(lastExport) > 30 {
                    _ = try Exporter(settings: settings).export(exported)
                    lastExport = Date()
                }
                try writeState(statePath, base: base, status: "in_progress", entries: stateEntries)
                log?.info("wave \(waveID) done: completed=\(waveCompleted) language_total=\(completed)/\(settings.run.totalSamples)")
            }
        }
        _ = try Exporter(settings: settings).export(exported)
        try writeState(statePath, base: base, status: "completed", entries: stateEntries)
        return totals
    }

    /// The judge-only pass: every finished wave of a run through `dlg-judge --offline --force`, into
    /// `<wave>.judged.jsonl` beside it, then the dataset files rewritten from the judged records.
    public func judgeOnly(runID requested: String?) throws(DlgError) -> Int {
        var id = requested ?? ""
        if id.isEmpty { id = settings.run.resumeRunID.isEmpty ? settings.run.runID : settings.run.resumeRunID }
        if id.isEmpty {
            let last = (stateRoot as NSString).appendingPathComponent("last_run_id.txt")
            id = ((try? Files.readText(last)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !id.isEmpty else { throw DlgError(.noInput, "\(stateRoot): no run to judge; give --run-id or run first") }
        let dir = (stateRoot as NSString).appendingPathComponent(id)
        let finals = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasSuffix(".final.jsonl") }.sorted().map { (dir as NSString).appendingPathComponent($0) }
        guard !finals.isEmpty else { throw DlgError(.noInput, "\(dir): no finished waves to judge") }
        var judged: [String] = []
        for f in finals {
            let out = f.replacingOccurrences(of: ".final.jsonl", with: ".judged.jsonl")
            try runPipeline([[tool("dlg-judge"), "--config", configPath, "--offline", "--force"]], input: f, output: out)
            judged.append(out)
        }
        try exportAll(judged)
        return judged.count
    }

    func exportAll(_ finals: [String]) throws(DlgError) {
        var records: [JSONObject] = []
        for f in finals { records.append(contentsOf: try Self.readRecords(f)) }
        _ = try Exporter(settings: settings).export(records)
    }

    static func stateEntry(_ r: JSONObject, waveFile: String) -> JSON {
        .obj([
            "conversation_index": r["index"] ?? 0, "conversation_id": r["conversation_id"] ?? "",
            "language": r["language"] ?? "", "target_n_turns": r["target_turns"] ?? 0,
            "status": r["status"] ?? "", "drop_reason": r["drop_reason"] ?? .null,
            "n_turns": .int(Record.turns(r).count), "wave_file": .string(waveFile),
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

    static func readRecords(_ path: String) throws(DlgError) -> [JSONObject] {
        var out: [JSONObject] = []
        for (i, line) in try Files.read(path).split(separator: 0x0A).enumerated() where !line.isEmpty {
            guard let o = (try? JSONCodec.parse(Array(line)))?.objectValue else {
                throw DlgError.data("\(path):\(i + 1): checkpoint line is not a JSON object")
            }
            out.append(o)
        }
        return out
    }

    func passPath(_ dir: String, _ waveID: String, _ pass: Int) -> String {
        (dir as NSString).appendingPathComponent("\(waveID).pass\(String(format: "%04d", pass)).jsonl")
    }

    /// Runs one wave to its end, resuming from its last checkpoint; returns the final file.
    func runWave(dir: String, waveID: String, language: String, size: Int, slot: Int) async throws(DlgError) -> String {
        let final = (dir as NSString).appendingPathComponent("\(waveID).final.jsonl")
        if Files.exists(final) { return final }
        var pass = 0
        while Files.exists(passPath(dir, waveID, pass + 1)) { pass += 1 }
        if !Files.exists(passPath(dir, waveID, 0)) {
            try runPipeline([[tool("dlg-gen"), "--config", configPath, "--new", String(size), "--language", language,
                              "--run-id", waveID, "--slot-offset", String(slot)]],
                            input: nil, output: passPath(dir, waveID, 0))
        }
        let maxPasses = settings.run.maxTurns * (settings.coverage.questionDedupRetries + 2) + 4
        let judgeArgs = [tool("dlg-judge"), "--config", configPath]
        while true {
            let current = passPath(dir, waveID, pass)
            let records = try Self.readRecords(current)
            let open = records.filter { Record.status($0) == "active" }.count
            let unjudged = settings.judge.online && settings.judge.granularity == "conversation"
                && records.contains { Record.status($0) == "completed" && !JudgeStage.isJudged($0["conversation_judge"]) }
            if open == 0 && !unjudged {
                if link(current, final) != 0 && !Files.exists(final) {
                    try Files.writeAtomically(try Files.read(current), to: final)
                }
                return final
            }
            if pass >= maxPasses {
                throw DlgError(.software, "wave \(waveID) still has \(open) open dialogue(s) after \(pass) passes")
            }
            let stages: [[String]] = open == 0 ? [judgeArgs] : [
                [tool("dlg-gen"), "--config", configPath], [tool("dlg-dedup"), "--config", configPath],
                [tool("dlg-respond"), "--config", configPath], judgeArgs,
            ]
            try runPipeline(stages, input: current, output: passPath(dir, waveID, pass + 1))
            pass += 1
        }
    }

    func tool(_ name: String) -> String { (toolsDir as NSString).appendingPathComponent(name) }

    /// Runs `stages` as a shell pipe from `input` into a temporary file renamed to `output` once every
    /// stage has exited 0.
    func runPipeline(_ stages: [[String]], input: String?, output: String) throws(DlgError) {
        let tmp = "\(output).tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: nil),
              let outHandle = FileHandle(forWritingAtPath: tmp) else {
            throw DlgError.io("\(tmp): cannot create")
        }
        defer { try? outHandle.close() }
        var processes: [Process] = []
        var previous: Any? = nil
        if let input {
            guard let h = FileHandle(forReadingAtPath: input) else { throw DlgError.io("\(input): cannot open") }
            previous = h
        } else {
            previous = FileHandle.nullDevice
        }
        for (i, args) in stages.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: args[0])
            p.arguments = Array(args.dropFirst())
            p.standardInput = previous
            p.standardError = FileHandle.standardError
            if i == stages.count - 1 {
                p.standardOutput = outHandle
            } else {
                let pipe = Pipe()
                p.standardOutput = pipe
                previous = pipe
            }
            processes.append(p)
        }
        // Foundation's waitUntilExit polls a run loop that has no sources here, which spins a CPU for as
        // long as the pass lasts; termination handlers and a group wait instead.
        let exited = DispatchGroup()
        for p in processes {
            exited.enter()
            p.terminationHandler = { _ in exited.leave() }
        }
        do {
            for p in processes { try p.run() }
        } catch {
            for p in processes where p.isRunning { p.terminate() }
            throw DlgError.io("cannot start \(stages.map { $0[0] }.joined(separator: " | ")): \(error)")
        }
        // Close our copies of the pipe ends so EOF propagates.
        for p in processes { if let pipe = p.standardOutput as? Pipe { try? pipe.fileHandleForWriting.close() } }
        exited.wait()
        // 69 means records were left unchanged for want of the LLM server: the output is still a valid
        // checkpoint (progress kept), and the run stops so the user can bring the server back.
        let unavailable = processes.firstIndex { $0.terminationStatus == DlgError.Code.unavailable.rawValue }
        if let u = unavailable, processes.allSatisfy({ $0.terminationStatus == 0 || $0.terminationStatus == DlgError.Code.unavailable.rawValue }) {
            outHandle.synchronizeFile()
            if rename(tmp, output) != 0 { throw DlgError.io("\(output): rename failed") }
            let name = (stages[u][0] as NSString).lastPathComponent
            throw DlgError.unavailable("\(name): the LLM server became unavailable; progress so far is checkpointed, run again with the same run id to resume")
        }
        for (i, p) in processes.enumerated() where p.terminationStatus != 0 {
            unlink(tmp)
            let name = (stages[i][0] as NSString).lastPathComponent
            let code = DlgError.Code(rawValue: p.terminationStatus) ?? .software
            throw DlgError(code, "\(name) exited with status \(p.terminationStatus); the checkpoint before this pass is kept, run again to resume")
        }
        outHandle.synchronizeFile()
        if rename(tmp, output) != 0 { throw DlgError.io("\(output): rename failed") }
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
