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
    public static func run(_ stage: some RecordStage, input: LineReader, output: FDWriter, concurrency: Int,
                           strict: Bool, mode: Mode = Mode(), observer: (any StageObserver)? = nil)
        async throws -> StageSummary
    {
        // Lines read ahead of those written: every task slot busy plus a few to pass through.
        let window = max(1, concurrency) + 16
        let (events, sink) = AsyncStream.makeStream(of: StageEvent.self)
        let feeder = LineFeeder(reader: input, window: window, events: sink)
        var summary = StageSummary()
        var finished: [Int: [UInt8]] = [:]
        var nextToWrite = 0
        var sequence = 0
        var inFlight = 0
        var fatal: Error?
        var inputDone = false
        /// Lines read but not started: at most `window`, when every task slot is busy.
        var waiting: [LineFeeder.Line] = []
        var waitingStart = 0

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

        // Discarding: a finished task reports through `sink` and is freed at once (a plain task group
        // keeps every finished child until its result is read, which grew a long-lived stage by
        // megabytes a second).
        await withDiscardingTaskGroup { group in
            /// Starts waiting lines while there are free task slots.
            func startReady() throws {
                while inFlight < max(1, concurrency) && waitingStart < waiting.count && fatal == nil {
                    let line = waiting[waitingStart]
                    waiting[waitingStart].bytes = []  // started: the queue no longer holds its bytes
                    waitingStart += 1
                    if waitingStart >= 64 && waitingStart * 2 > waiting.count {
                        waiting.removeFirst(waitingStart)
                        waitingStart = 0
                    }
                    let seq = sequence
                    sequence += 1
                    let halted = mode.stop?() ?? false
                    if halted && !mode.ordered {
                        // The records not started stay with dlg-run, which holds them in its journal.
                        inputDone = true
                        waiting.removeAll()
                        waitingStart = 0
                        feeder.stop()
                        return
                    }
                    if RecordCheck.isBlank(line.bytes) {
                        try emit(seq, [])
                        continue
                    }
                    summary.records += 1
                    let record: JSONObject
                    switch RecordCheck.parse(line.bytes) {
                    case .success(let r): record = r
                    case .failure(let problem):
                        summary.badLines += 1
                        if strict {
                            fatal = DlgError.data("\(input.name):\(line.number): \(problem)")
                        } else {
                            observer?.skippedBadLine(source: input.name, line: line.number, problem: problem.description)
                        }
                        try emit(seq, [])
                        continue
                    }
                    if !halted && stage.needsWork(record) {
                        summary.worked += 1
                        inFlight += 1
                        observer?.started()
                        let size = line.bytes.count
                        group.addTask {
                            let out = await stage.process(record)
                            var bytes: [UInt8] = []
                            bytes.reserveCapacity(size + 1024)
                            JSON.object(out).write(into: &bytes)
                            bytes.append(0x0A)
                            sink.yield(.done(sequence: seq, bytes: bytes, dropped: Record.status(out) == .dropped))
                        }
                    } else {
                        var bytes = line.bytes
                        bytes.append(0x0A)
                        try emit(seq, bytes)
                    }
                }
            }

            do {
                for await event in events {
                    switch event {
                    case .line(let line):
                        if !inputDone { waiting.append(line) }
                    case .inputFailed(let e):
                        fatal = fatal ?? e
                    case .inputEnd:
                        inputDone = true
                    case .done(let seq, let bytes, let dropped):
                        inFlight -= 1
                        if dropped { summary.dropped += 1 }
                        observer?.finished(dropped: dropped)
                        try emit(seq, bytes)
                    }
                    try startReady()
                    if fatal != nil { inputDone = true; waiting.removeAll(); waitingStart = 0; feeder.stop() }
                    if inputDone && waitingStart >= waiting.count && inFlight == 0 { break }
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
