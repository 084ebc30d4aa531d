import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension RunOrchestrator {
    /// The judge-only pass: the run's finished dialogues through `dlg-judge --offline --force` into
    /// `judged.jsonl` beside them, then the dataset files rewritten from the judged records.
    public func judgeOnly(runID requested: String?) async throws(DlgError) -> Int {
        var id = requested ?? configuredRunID ?? ""
        if id.isEmpty {
            id = ((try? Files.readText(layout.lastRunIDPath)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !id.isEmpty else { throw DlgError(.noInput, "\(stateRoot): no run to judge; give --run-id or run first") }
        let dir = try layout.runDir(id)
        let finishedPath = try layout.finished(id)
        let journalPath = try layout.journal(id)
        if !Files.exists(finishedPath) {
            // An unfinished run: judge the dialogues it finished so far.
            guard Files.exists(journalPath) else { throw DlgError(.noInput, "\(dir): no dialogues to judge") }
            let journal = try RunJournal(path: journalPath, keep: { Record.status($0) == .active })
            let index = journal.index
            let finished = index.sorted((0..<index.count).filter { index.status(at: $0) != .active },
                                        languages: settings.run.targetLanguages)
            guard !finished.isEmpty else { throw DlgError(.noInput, "\(dir): no finished dialogues to judge") }
            try journal.writeLatest(finished, to: finishedPath)
        }
        let judged = try layout.rejudged(id)
        try await runTool(StageCommand.judgeAgain(config: configPath).arguments(toolsDir: toolsDir), input: finishedPath, output: judged)
        // Streamed from the judged file: a run of any size is exported one dialogue at a time.
        let fd = open(judged, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DlgError.io("\(judged): cannot open") }
        defer { close(fd) }
        let session = try ExportSession(settings: settings, embedder: EndpointQuestionEmbedder.forRetrieval(settings))
        session.knowledge = KnowledgeBase.inventoryKeys(settings: settings)
        let count = try session.add(from: LineReader(fd: fd, name: judged)) { (number: Int, problem: String) throws(DlgError) in
            throw DlgError.data("\(judged):\(number): not a dialogue record: \(problem)")
        }
        _ = try await session.finish()
        return count
    }

    /// Runs one tool from the file `input` into a temporary file renamed to `output` once it exits 0
    /// (or 69: the records it could not reach the server for are written back unchanged, so the output
    /// is still whole; the caller then stops with "unavailable").
    func runTool(_ args: [String], input: String, output: String) async throws(DlgError) {
        let tmp = "\(output).tmp.\(getpid())"
        let outFD = try Files.createTemporary(tmp)
        defer { close(outFD) }
        let inFD = open(input, O_RDONLY | O_CLOEXEC)
        guard inFD >= 0 else {
            unlink(tmp)
            throw DlgError.io("\(input): cannot open: \(String(cString: strerror(errno)))")
        }
        defer { close(inFD) }
        // In batch mode the judge records its batches with the run's (a pass killed and run again finds them).
        var environment = ProcessInfo.processInfo.environment
        let runDir = (output as NSString).deletingLastPathComponent
        environment[BatchAPISettings.stateVariable] = BatchControl.stateLocation(settings: settings, runID: (runDir as NSString).lastPathComponent, runDir: runDir)
        let child = Subprocess(args, environment: environment, standardInput: .fd(inFD), standardOutput: .fd(outFD))
        let name = child.name
        do throws(DlgError) { try child.start() } catch {
            unlink(tmp)
            throw error
        }
        let status = await child.exitStatus()
        // 75: it stopped on an error storm; like 69, what it did not judge it wrote back unchanged.
        let stormed = status == DlgError.Code.tempFail.rawValue
        guard status == 0 || status == DlgError.Code.unavailable.rawValue || stormed else {
            unlink(tmp)
            throw DlgError(DlgError.Code(rawValue: status) ?? .software, "\(name) exited with status \(status); \(input) is unchanged, run again")
        }
        fsync(outFD)
        if rename(tmp, output) != 0 { throw DlgError.io("\(output): rename failed") }
        if stormed {
            throw DlgError(.tempFail, "\(name) stopped on an error storm of the LLM server (see its message above); what it judged is in \(output), run again to judge the rest")
        }
        if status != 0 {
            throw DlgError.unavailable("\(name): the LLM server became unavailable; what it judged is in \(output), run again to judge the rest")
        }
    }
}
