import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a stage does with one record.
public protocol RecordStage: Sendable {
    /// Whether the record needs this stage; records that do not are written back byte for byte.
    func needsWork(_ record: JSONObject) -> Bool
    /// The record after this stage. Failures become `status: dropped` records, never thrown.
    func process(_ record: JSONObject) async -> JSONObject
}

/// Records a stage had to leave unchanged because the LLM server could not be reached; the tool then
/// exits 69 and the records can be retried as they are.
public final class StageHealth: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var last = ""
    public init() {}
    public func unavailable(_ detail: String) { lock.withLock { count += 1; last = detail } }
    public var unavailableCount: Int { lock.withLock { count } }
    public var lastDetail: String { lock.withLock { last } }
}

/// Counts a stage reports at the end.
public struct StageSummary: Sendable {
    public var records = 0
    public var worked = 0
    public var badLines = 0
    public var dropped = 0
}

/// What the runner waits for: an input line, the end of input, or a record a task finished.
enum StageEvent: Sendable {
    case line(LineFeeder.Line)
    case inputFailed(DlgError)
    case inputEnd
    case done(sequence: Int, bytes: [UInt8], dropped: Bool)
}

/// Reads JSONL on a dedicated thread with backpressure (at most `window` lines read ahead of what was
/// written), so a slow upstream never blocks the cooperative pool and a large file is never held in
/// memory. Lines go into the runner's one event stream, beside the finished records.
final class LineFeeder: @unchecked Sendable {
    struct Line: Sendable {
        var number: Int
        var bytes: [UInt8]
    }
    private let permits: DispatchSemaphore
    private let stopped = ManagedAtomicFlag()

    init(reader: LineReader, window: Int, events: AsyncStream<StageEvent>.Continuation) {
        // Created empty and filled: libdispatch traps when a semaphore is freed below its initial
        // value, which is where a stopped feeder leaves it.
        permits = DispatchSemaphore(value: 0)
        for _ in 0..<window { permits.signal() }
        let thread = Thread { [permits, stopped] in
            do {
                while let line = try reader.next() {
                    permits.wait()
                    if stopped.isSet { return }
                    events.yield(.line(Line(number: reader.lineNumber, bytes: Array(line))))
                }
            } catch let e as DlgError {
                events.yield(.inputFailed(e))
            } catch {}
            events.yield(.inputEnd)
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Lets the reader thread read one more line.
    func release() { permits.signal() }
    func stop() { stopped.set(); permits.signal() }
}

final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

public enum StageRunner {
    /// One input line as a record, or what is wrong with it.
    static func parseRecord(_ bytes: [UInt8]) -> Result<JSONObject, RecordProblem> {
        let parsed: JSON
        do { parsed = try JSONCodec.parse(bytes) } catch { return .failure(RecordProblem("malformed JSON: \(error)")) }
        guard case .object(let record) = parsed else {
            return .failure(RecordProblem("a record must be a JSON object, found \(parsed.typeName)"))
        }
        if let problem = RecordCheck.problem(record) { return .failure(RecordProblem(problem)) }
        return .success(record)
    }

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
    /// malformed line is reported with its line number and skipped (`strict` makes it fatal); the exit
    /// status then says data was bad (65).
    public static func run(_ stage: some RecordStage, input: LineReader, output: FDWriter, concurrency: Int,
                           tool: String, strict: Bool, mode: Mode = Mode(), progress: Progress? = nil)
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
                    if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                        try emit(seq, [])
                        continue
                    }
                    summary.records += 1
                    let record: JSONObject
                    switch parseRecord(line.bytes) {
                    case .success(let r): record = r
                    case .failure(let problem):
                        summary.badLines += 1
                        StandardError.write("\(tool): error: \(input.name):\(line.number): \(problem)")
                        if strict { fatal = DlgError.data("\(input.name):\(line.number): \(problem)") }
                        try emit(seq, [])
                        continue
                    }
                    if !halted && stage.needsWork(record) {
                        summary.worked += 1
                        inFlight += 1
                        progress?.started()
                        let size = line.bytes.count
                        group.addTask {
                            let out = await stage.process(record)
                            var bytes: [UInt8] = []
                            bytes.reserveCapacity(size + 1024)
                            JSON.object(out).write(into: &bytes)
                            bytes.append(0x0A)
                            sink.yield(.done(sequence: seq, bytes: bytes, dropped: out["status"]?.stringValue == "dropped"))
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
                        progress?.finished(dropped: dropped)
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

struct RecordProblem: Error, CustomStringConvertible, Sendable {
    let description: String
    init(_ d: String) { description = d }
}

/// Checks the fields every stage relies on, so a broken record is reported by name and line.
public enum RecordCheck {
    public static func problem(_ r: JSONObject) -> String? {
        guard let id = r["conversation_id"] else { return "\"conversation_id\" is missing" }
        guard let s = id.stringValue, !s.isEmpty else { return "\"conversation_id\" is not a non-empty string" }
        if s.contains("/") || s.contains("..") { return "\"conversation_id\" must not contain \"/\" or \"..\"" }
        guard let status = r["status"] else { return "\"status\" is missing" }
        guard let st = status.stringValue, ["active", "completed", "dropped"].contains(st) else {
            return "\"status\" must be \"active\", \"completed\" or \"dropped\""
        }
        guard r["turns"]?.arrayValue != nil else { return "\"turns\" is missing or not a list" }
        guard r["target_turns"]?.intValue != nil else { return "\"target_turns\" is missing or not an integer" }
        if let p = r["pending"], !p.isNull {
            guard p.objectValue != nil else { return "\"pending\" is not an object" }
            guard p["user_message"]?.stringValue != nil else { return "\"pending.user_message\" is not a string" }
        }
        return nil
    }
}

/// A progress line on stderr when it is a terminal: done, in flight, dropped, tokens/s.
public final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0, inFlight = 0, dropped = 0
    private var lastPrint = Date.distantPast
    private let tool: String
    private let startTime = Date()
    private let tokens: @Sendable () -> Int

    /// Nil unless `StandardError.showsProgress`.
    public init?(tool: String, tokens: @escaping @Sendable () -> Int) {
        guard StandardError.showsProgress else { return nil }
        self.tool = tool
        self.tokens = tokens
    }

    func started() { lock.withLock { inFlight += 1 } }
    func finished(dropped d: Bool) {
        let line: String? = lock.withLock {
            inFlight -= 1; done += 1; if d { dropped += 1 }
            guard Date().timeIntervalSince(lastPrint) > 0.2 else { return nil }
            lastPrint = Date()
            let rate = Double(tokens()) / max(0.001, Date().timeIntervalSince(startTime))
            return "\r\(tool): \(done) done, \(inFlight) in flight, \(dropped) dropped, \(Int(rate)) tokens/s"
        }
        if let line { StandardError.redraw(line) }
    }

    public func end() { StandardError.clearLine() }
}

/// A stage with nothing to do: validates records and passes them through.
public struct PassThrough: RecordStage {
    public init() {}
    public func needsWork(_ record: JSONObject) -> Bool { false }
    public func process(_ record: JSONObject) async -> JSONObject { record }
}

extension StageRunner {
    /// Runs a stage over records made in memory (dlg-gen --new), writing JSONL in order.
    public static func runRecords(_ stage: some RecordStage, records: [JSONObject], output: FDWriter,
                                  concurrency: Int) async throws -> StageSummary {
        var bytes: [UInt8] = []
        for r in records { JSON.object(r).write(into: &bytes); bytes.append(0x0A) }
        let pipe = try InMemoryInput(bytes)
        return try await run(stage, input: LineReader(fd: pipe.fd, name: "new records"), output: output,
                             concurrency: concurrency, tool: "dlg-gen", strict: true)
    }
}

/// Bytes served through a temporary file descriptor (an unlinked temp file), so in-memory
/// records go through the same reader as stdin.
final class InMemoryInput {
    let fd: Int32
    init(_ bytes: [UInt8]) throws {
        var template = Array("/tmp/dlg-gen-XXXXXX".utf8CString)
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

/// Run ids: 32 hex digits like upstream's uuid4().hex.
public enum RunIDs {
    public static func random() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<2).map { _ in String(format: "%016llx", g.next()) }.joined()
    }
}
