import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where `report.html`'s dialogues and figures come from: a run's state under
/// `saving.output_dir/run_state/<run_id>/` (the judge-only pass's `judged.jsonl` when it is newer
/// than `finished.jsonl`, else `finished.jsonl`, else, for a run not finished yet, the latest line
/// of each dialogue in its journal, read without touching it), or record files given by the user;
/// tokens and requests per agent from `logs/llm.log`, the wall time from `logs/runs.jsonl`
/// (`RunTimings`). Every path is `RunLayout`'s.
public enum RunReport {
    public static let fileName = RunLayout.reportFile

    /// The report's path for these settings.
    public static func path(settings: Settings) -> String { settings.layout.reportPath }

    /// Builds `<saving.output_dir>/report.html` from record files, or from a run's state (`runID`, else
    /// the configured run id, else the last run). `onBadLine` hears about a line of a record file that is
    /// not a dialogue record (line number, what is wrong) and decides, by throwing or not, whether to go on.
    public static func build(settings: Settings, runID requested: String? = nil, files: [String] = [],
                             onBadLine: (String, Int, String) throws(DlgError) -> Void = { _, _, _ in })
        throws(DlgError) -> ReportBuilder.Summary
    {
        // The output folder may not exist yet (a report from record files before any run).
        try Files.makeDirectory(settings.outputDir)
        let builder = try ReportBuilder(settings: settings, path: path(settings: settings))
        var info: ReportBuilder.RunInfo
        if !files.isEmpty {
            info = ReportBuilder.RunInfo(runID: requested, source: files.joined(separator: ", "))
            for path in files {
                try eachLine(of: path) { (number: Int, line: ArraySlice<UInt8>) throws(DlgError) in
                    switch RecordCheck.parse(Array(line)) {
                    case .success(let r): try builder.add(r)
                    case .failure(let problem): try onBadLine(path, number, problem.description)
                    }
                }
            }
        } else {
            let (id, dir) = try runFolder(settings: settings, requested: requested)
            info = ReportBuilder.RunInfo(runID: id, source: "")
            let layout = settings.layout
            let finished = try layout.finished(id)
            let judged = try layout.rejudged(id)
            let journal = try layout.journal(id)
            if Files.exists(judged) && (!Files.exists(finished) || modified(judged) >= modified(finished)) {
                info.source = judged
                try records(of: judged, builder.add)
            } else if Files.exists(finished) {
                info.source = finished
                try records(of: finished, builder.add)
            } else if Files.exists(journal) {
                info.source = journal
                try latestRecords(ofJournal: journal, builder.add)
            } else {
                throw DlgError(.noInput, "\(dir): no dialogues to report on (no \(RunLayout.finishedFile) or \(RunLayout.journalFile))")
            }
            if let (seconds, source) = wallTime(layout: layout, runID: id) {
                info.wallSeconds = seconds
                info.wallSource = source
            }
            info.batchCost = BatchRunCost.read(layout: layout, runID: id)
            // Beside the dataset files, the last export's: the page says when it counted other dialogues.
            info.metrics = ReportQuality.readMetrics(layout.metricsPath)
            info.metricsSource = relative(layout.metricsPath, to: settings.projectRoot)
        }
        let (agents, span) = agentUsage(logsDir: settings.logsDir, ids: builder.ids)
        info.agents = agents
        if info.wallSeconds == nil, let span {
            info.wallSeconds = span
            info.wallSource = "\(RunLayout.logsFolder)/\(RunLayout.llmLog), first request to last reply"
        }
        info.source = relative(info.source, to: settings.projectRoot)
        return try builder.finish(info)
    }

    /// `path` relative to the project's folder when it is under it (the page names its source).
    static func relative(_ path: String, to root: String) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }

    /// The run's id and state folder: `requested`, else `run.resume_run_id` / `run.run_id`, else
    /// `run_state/last_run_id.txt`.
    static func runFolder(settings: Settings, requested: String?) throws(DlgError) -> (String, String) {
        let layout = settings.layout
        var id = requested ?? ""
        if id.isEmpty { id = settings.run.resumeRunID.isEmpty ? settings.run.runID : settings.run.resumeRunID }
        if id.isEmpty {
            id = ((try? Files.readText(layout.lastRunIDPath)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !id.isEmpty else {
            throw DlgError(.noInput, "\(layout.stateRoot): no run to report on; run first, or give --run-id or record files")
        }
        let dir = try layout.runDir(id)
        guard Files.isDirectory(dir) else { throw DlgError(.noInput, "\(dir): no such run") }
        return (id, dir)
    }

    static func modified(_ path: String) -> Double {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        return Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    /// Calls `body` with each non-blank line of a file and its number.
    static func eachLine(of path: String, _ body: (Int, ArraySlice<UInt8>) throws(DlgError) -> Void) throws(DlgError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DlgError(.noInput, "\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let reader = LineReader(fd: fd, name: path)
        while let line = try reader.next() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            try body(reader.lineNumber, line)
        }
    }

    /// The records of a run-state file (written by dlg-run: a line that is not a record is an error).
    static func records(of path: String, _ body: (JSONObject) throws(DlgError) -> Void) throws(DlgError) {
        try eachLine(of: path) { (number: Int, line: ArraySlice<UInt8>) throws(DlgError) in
            guard let r = (try? JSONCodec.parse(Array(line)))?.objectValue else {
                throw DlgError.data("\(path):\(number): not a dialogue record")
            }
            try body(r)
        }
    }

    /// The latest state of each dialogue in a journal, in the order of those lines, in two passes over the
    /// file (read-only: a run may be appending to it; a torn last line is skipped).
    static func latestRecords(ofJournal path: String, _ body: (JSONObject) throws(DlgError) -> Void) throws(DlgError) {
        var latest: [String: Int] = [:]
        try eachLine(of: path) { (number: Int, line: ArraySlice<UInt8>) throws(DlgError) in
            if let r = (try? JSONCodec.parse(Array(line)))?.objectValue, !Record.id(r).isEmpty { latest[Record.id(r)] = number }
        }
        try eachLine(of: path) { (number: Int, line: ArraySlice<UInt8>) throws(DlgError) in
            guard let id = idOf(line), latest[id] == number,
                  let r = (try? JSONCodec.parse(Array(line)))?.objectValue else { return }
            try body(r)
        }
    }

    /// The conversation id of a journal line, read without parsing the whole line (dlg-run writes
    /// `conversation_id` first); nil when it is not there.
    static func idOf(_ line: ArraySlice<UInt8>) -> String? {
        let key = Array("{\"conversation_id\":\"".utf8)
        guard line.starts(with: key) else {
            return (try? JSONCodec.parse(Array(line)))?.objectValue.map(Record.id)
        }
        let rest = line.dropFirst(key.count)
        guard let end = rest.firstIndex(of: 0x22) else { return nil }
        return String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
    }

    /// The run's wall time: the `wall_seconds` of every dlg-run that finished this run or part of it
    /// (`RunTimings`, a line each in `logs/runs.jsonl`), added up.
    static func wallTime(layout: RunLayout, runID: String) -> (Double, String)? {
        let path = layout.log(RunLayout.runsFile)
        guard Files.exists(path) else { return nil }
        var total = 0.0
        var found = 0
        try? eachLine(of: path) { (_: Int, line: ArraySlice<UInt8>) throws(DlgError) in
            guard let entry = try? JSONCodec.parse(Array(line)), entry["run_id"]?.stringValue == runID,
                  let s = entry["wall_seconds"]?.doubleValue else { return }
            total += s
            found += 1
        }
        guard found > 0 else { return nil }
        let shown = "\(RunLayout.logsFolder)/\(RunLayout.runsFile)"
        return (total, found == 1 ? shown : "\(shown), \(found) dlg-run invocations added up")
    }

    /// Requests and tokens per agent from the `dlg.llm` lines of `logs/llm.log` that name one of
    /// `ids`, and the time from the first request to the last reply among them.
    static func agentUsage(logsDir: String, ids: Set<String>) -> ([ReportBuilder.AgentUsage], Double?) {
        let path = (logsDir as NSString).appendingPathComponent(RunLayout.llmLog)
        guard Files.exists(path), !ids.isEmpty else { return ([], nil) }
        var agents: [String: ReportBuilder.AgentUsage] = [:]
        var order: [String] = []
        var first: Double?
        var last: Double?
        try? eachLine(of: path) { (_: Int, line: ArraySlice<UInt8>) throws(DlgError) in
            let text = String(decoding: line, as: UTF8.self)
            guard text.contains(" | dlg.llm | ") else { return }
            var fields: [Substring: Substring] = [:]
            for word in text.split(separator: " ") {
                guard let eq = word.firstIndex(of: "=") else { continue }
                fields[word[..<eq]] = word[word.index(after: eq)...]
            }
            guard let conversation = fields["conversation"], ids.contains(String(conversation)),
                  let agent = fields["agent"].map(String.init) else { return }
            if agents[agent] == nil {
                agents[agent] = ReportBuilder.AgentUsage(agent: agent)
                order.append(agent)
            }
            if fields["status"] == "200" && fields["error"] == nil {
                agents[agent]!.requests += 1
                agents[agent]!.promptTokens += fields["prompt_tokens"].flatMap { Int($0) } ?? 0
                agents[agent]!.completionTokens += fields["completion_tokens"].flatMap { Int($0) } ?? 0
            } else {
                agents[agent]!.failed += 1
            }
            if let at = logTime(text) {
                let ms = (fields["ms"].flatMap { Double($0) } ?? 0) / 1000
                first = min(first ?? .infinity, at - ms)
                last = max(last ?? -.infinity, at)
            }
        }
        let span = first.flatMap { f in last.map { $0 - f } }
        return (order.map { agents[$0]! }, span)
    }

    /// Seconds since the epoch of a log line's `2026-12-01 09:40:36,372` stamp (UTC).
    static func logTime(_ line: String) -> Double? {
        let u = Array(line.utf8.prefix(23))
        guard u.count == 23, u[4] == 0x2D, u[10] == 0x20, u[19] == 0x2C else { return nil }
        func n(_ a: Int, _ b: Int) -> Int? {
            var v = 0
            for c in u[a..<b] { guard (0x30...0x39).contains(c) else { return nil }; v = v * 10 + Int(c - 0x30) }
            return v
        }
        guard let y = n(0, 4), let mo = n(5, 7), let d = n(8, 10), let h = n(11, 13), let mi = n(14, 16),
              let s = n(17, 19), let ms = n(20, 23) else { return nil }
        var t = tm()
        t.tm_year = Int32(y - 1900); t.tm_mon = Int32(mo - 1); t.tm_mday = Int32(d)
        t.tm_hour = Int32(h); t.tm_min = Int32(mi); t.tm_sec = Int32(s)
        return Double(timegm(&t)) + Double(ms) / 1000
    }
}
