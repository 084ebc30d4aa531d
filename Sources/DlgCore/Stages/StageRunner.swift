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
        let (events, sink) = AsyncStream.makeStream(of: StageEvent.self)
        let feeder = LineFeeder(reader: input, window: slots + 16, events: sink)
        let state = StageRunState(stage: stage, inputName: input.name, output: output, strict: strict, mode: mode,
                                  observer: observer, feeder: feeder, sink: sink, slots: slots)
        // Discarding: a finished task reports through `sink` and is freed at once (a plain task group
        // keeps every finished child until its result is read, which grew a long-lived stage by
        // megabytes a second).
        await withDiscardingTaskGroup { group in
            do {
                for await event in events {
                    try state.take(event, group: &group)
                    if state.isFinished { break }
                }
            } catch {
                // The output closed or failed: stop reading; the tasks in flight still finish.
                state.fatal = state.fatal ?? error
                feeder.stop()
            }
            sink.finish()
        }
        try state.flushReady()
        try output.flush()
        if let fatal = state.fatal { throw fatal }
        return state.summary
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
