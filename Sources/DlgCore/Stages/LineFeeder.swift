import Foundation

/// What the runner waits for: an input line, a line parsed, the end of input, or a record a task finished.
enum StageEvent: Sendable {
    /// What a parsed line turned out to be.
    enum Parsed: Sendable {
        case bad(number: Int, problem: RecordProblem)
        /// Nothing for the stage: the line as it came (with its newline).
        case passed([UInt8])
        case ready(RecordLine)
    }
    case line(LineFeeder.Line)
    case parsed(sequence: Int, Parsed)
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
