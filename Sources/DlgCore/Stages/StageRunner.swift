import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum StageRunner {
    /// How a stage writes its records.
    public struct Mode: Sendable {
        /// Records in input order (the default: a file in, the same file out). Unordered, each record
        /// is written and flushed as soon as it is done, so one slow dialogue never holds back the
        /// others: dlg-run's loop streams dialogues through long-lived stages this way.
        public var ordered = true
        /// Asked before each new input record; once true (the LLM server is gone), an unordered stage
        /// stops reading (the records not read stay with dlg-run) and an ordered one writes the rest of
        /// its input back unchanged instead of waiting out every retry; the records in flight finish.
        public var stop: (@Sendable () -> Bool)? = nil
        public init(ordered: Bool = true, stop: (@Sendable () -> Bool)? = nil) {
            self.ordered = ordered
            self.stop = stop
        }
    }

    /// Runs `stage` over JSONL from `input` to `output`, up to `concurrency` records at once. A
    /// malformed line is reported to `observer` with its line number and skipped (`strict` makes it a
    /// thrown `data` error instead); the summary counts it, and the tool's exit status says data was bad (65).
    ///
    /// Records flow through one at a time: each line is parsed in a task of its own as soon as it is
    /// read (not by the loop that reads and writes, which would parse a burst of lines one after the
    /// other before the first could start), goes to the stage when a slot is free, and is written as
    /// soon as it is done. Lines are parsed with the stage's `turnView`, so the parts of the turns the
    /// stage does not read are copied through as bytes. With `strict`, lines are parsed in order by the
    /// loop, so that nothing after a bad line is started.
    public static func run(_ stage: some RecordStage, input: LineReader, output: FDWriter, concurrency: Int,
                           strict: Bool, mode: Mode = Mode(), observer: (any StageObserver)? = nil)
        async throws -> StageSummary
    {
        // Lines read ahead of those written: every task slot busy plus a few to pass through.
        let slots = max(1, concurrency)
        let window = slots + 16
        let (events, sink) = AsyncStream.makeStream(of: StageEvent.self)
        let feeder = LineFeeder(reader: input, window: window, events: sink)
        let view = stage.turnView
        var summary = StageSummary()
        var finished: [Int: [UInt8]] = [:]
        var nextToWrite = 0
        var sequence = 0
        /// Records with the stage (at most `slots`), and lines being parsed.
        var working = 0
        var parsing = 0
        var fatal: Error?
        var inputDone = false
        /// Parsed records waiting for a free slot, in input order.
        var ready: [(sequence: Int, line: RecordLine)] = []
        var readyStart = 0

        func flushReady() throws {
            while let bytes = finished.removeValue(forKey: nextToWrite) {
                if !bytes.isEmpty { try output.write(bytes) }
                nextToWrite += 1
                feeder.release()
            }
        }
        /// A record (or an empty placeholder for a skipped line) is done.
        func emit(_ seq: Int, _ bytes: [UInt8]) throws {
            if mode.ordered {
                finished[seq] = bytes
                try flushReady()
            } else {
                if !bytes.isEmpty {
                    try output.write(bytes)
                    try output.flush()
                }
                feeder.release()
            }
        }
        /// Set once the records not started are dropped (a fatal error, or an unordered stage stopped).
        var dropping = false
        func dropWaiting() {
            dropping = true
            inputDone = true
            for r in ready[readyStart...] { try? emit(r.sequence, []) }
            ready.removeAll()
            readyStart = 0
            feeder.stop()
        }
        /// Asked before each record is started or passed on: true stops an unordered stage.
        func halts() -> Bool { !mode.ordered && (mode.stop?() ?? false) }
        func handle(_ seq: Int, _ parsed: StageEvent.Parsed) throws {
            if dropping { return try emit(seq, []) }
            switch parsed {
            case .bad(let number, let problem):
                summary.records += 1
                summary.badLines += 1
                if strict {
                    fatal = fatal ?? DlgError.data("\(input.name):\(number): \(problem)")
                } else {
                    observer?.skippedBadLine(source: input.name, line: number, problem: problem.description)
                }
                try emit(seq, [])
            case .passed(let bytes):
                if halts() {
                    // The records not started stay with dlg-run, which holds them in its journal.
                    try emit(seq, [])
                    dropWaiting()
                    return
                }
                summary.records += 1
                try emit(seq, bytes)
            case .ready(let line):
                ready.append((seq, line))
            }
        }

        // Discarding: a finished task reports through `sink` and is freed at once (a plain task group
        // keeps every finished child until its result is read, which grew a long-lived stage by
        // megabytes a second).
        await withDiscardingTaskGroup { group in
            /// Starts parsed records while there are free slots.
            func startReady() throws {
                while working < slots && readyStart < ready.count && fatal == nil {
                    let (seq, line) = ready[readyStart]
                    readyStart += 1
                    if readyStart >= 64 && readyStart * 2 > ready.count {
                        ready.removeFirst(readyStart)
                        readyStart = 0
                    }
                    if mode.stop?() ?? false {
                        if !mode.ordered {
                            try emit(seq, [])
                            dropWaiting()
                            return
                        }
                        summary.records += 1
                        try emit(seq, line.bytesWithNewline())
                        continue
                    }
                    summary.records += 1
                    summary.worked += 1
                    working += 1
                    observer?.started()
                    group.addTask {
                        var line = line
                        if view.wholeForWork, line.isPartial, case .success(let whole) = line.readWhole() { line = whole }
                        let out = await stage.process(line.record)
                        var bytes: [UInt8] = []
                        bytes.reserveCapacity(line.byteCount + 1024)
                        line.write(out, into: &bytes)
                        bytes.append(0x0A)
                        sink.yield(.done(sequence: seq, bytes: bytes, dropped: Record.status(out) == .dropped))
                    }
                }
            }

            do {
                for await event in events {
                    switch event {
                    case .line(let line):
                        guard !inputDone else { break }
                        let seq = sequence
                        sequence += 1
                        if RecordCheck.isBlank(line.bytes) {
                            try emit(seq, [])
                            break
                        }
                        if strict {
                            try handle(seq, Self.classify(line, stage: stage, view: view))
                        } else {
                            parsing += 1
                            group.addTask {
                                sink.yield(.parsed(sequence: seq, Self.classify(line, stage: stage, view: view)))
                            }
                        }
                    case .parsed(let seq, let parsed):
                        parsing -= 1
                        try handle(seq, parsed)
                    case .inputFailed(let e):
                        fatal = fatal ?? e
                    case .inputEnd:
                        inputDone = true
                    case .done(let seq, let bytes, let dropped):
                        working -= 1
                        if dropped { summary.dropped += 1 }
                        observer?.finished(dropped: dropped)
                        try emit(seq, bytes)
                    }
                    try startReady()
                    if fatal != nil && !dropping { dropWaiting() }
                    if inputDone && readyStart >= ready.count && working == 0 && parsing == 0 { break }
                }
            } catch {
                // The output closed or failed: stop reading; the tasks in flight still finish.
                fatal = fatal ?? error
                feeder.stop()
            }
            sink.finish()
        }
        try flushReady()
        try output.flush()
        if let fatal { throw fatal }
        return summary
    }

    /// A line parsed for `stage`: not a record, a record the stage passes through (its bytes), or one
    /// for the stage.
    static func classify(_ line: LineFeeder.Line, stage: some RecordStage, view: TurnView) -> StageEvent.Parsed {
        switch RecordLine.parse(line.bytes, view: view) {
        case .failure(let problem):
            return .bad(number: line.number, problem: problem)
        case .success(let record):
            guard stage.needsWork(record.record) else { return .passed(record.bytesWithNewline()) }
            return .ready(record)
        }
    }
}

extension StageRunner {
    /// Runs a stage over records made in memory (dlg-gen --new), writing JSONL in order.
    public static func runRecords(_ stage: some RecordStage, records: [JSONObject], output: FDWriter,
                                  concurrency: Int, observer: (any StageObserver)? = nil) async throws -> StageSummary {
        var bytes: [UInt8] = []
        for r in records { JSON.object(r).write(into: &bytes); bytes.append(0x0A) }
        let pipe = try InMemoryInput(bytes)
        return try await run(stage, input: LineReader(fd: pipe.fd, name: "new records"), output: output,
                             concurrency: concurrency, strict: true, observer: observer)
    }
}

/// Bytes served through a temporary file descriptor (an unlinked temp file), so in-memory
/// records go through the same reader as stdin.
final class InMemoryInput {
    let fd: Int32
    init(_ bytes: [UInt8]) throws {
        var template = Array("/tmp/dlg-records-XXXXXX".utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw DlgError.io("cannot create a temporary file") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { break }
            off += n
        }
        lseek(fd, 0, SEEK_SET)
    }
    deinit { close(fd) }
}
