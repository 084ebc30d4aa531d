import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a person sees of a stage run: each skipped bad line as `tool: error: source:line: problem`,
/// and, when stderr is a terminal, a progress line: done, in flight, dropped, records per minute,
/// tokens/s, elapsed, and, when stdin is a file (`dlg-judge --offline < finished.jsonl`), how far
/// through it the stage has read and the ETA.
public final class StageReporter: StageObserver, @unchecked Sendable {
    private let lock = NSLock()
    private let tool: String
    private let drawsProgress: Bool
    private var done = 0, inFlight = 0, dropped = 0
    private var lastDraw = Date.distantPast
    private let startTime = Date()
    private let tokens: @Sendable () -> Int
    /// The size of stdin when it is a regular file (its read offset then says how far the stage is).
    private let inputSize: Int64?

    public init(tool: String, tokens: @escaping @Sendable () -> Int) {
        self.tool = tool
        self.tokens = tokens
        drawsProgress = StandardError.showsProgress
        var st = stat()
        inputSize = fstat(0, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && st.st_size > 0 ? Int64(st.st_size) : nil
    }

    public func skippedBadLine(source: String, line: Int, problem: String) {
        StandardError.write("\(tool): error: \(source):\(line): \(problem)")
    }

    public func started() { lock.withLock { inFlight += 1 } }

    public func finished(dropped d: Bool) {
        let line: String? = lock.withLock {
            inFlight -= 1; done += 1; if d { dropped += 1 }
            guard drawsProgress, Date().timeIntervalSince(lastDraw) > 0.2 else { return nil }
            lastDraw = Date()
            let elapsed = max(0.001, Date().timeIntervalSince(startTime))
            var parts = ["\(tool): \(done) done", "\(inFlight) in flight", "\(dropped) dropped",
                         String(format: "%.1f/min", Double(done) / elapsed * 60), "\(Int(Double(tokens()) / elapsed)) tokens/s"]
            var time = Duration.clock(elapsed)
            if let size = inputSize {
                let read = Int64(lseek(0, 0, SEEK_CUR))
                if read > 0 {
                    parts.insert("\(min(100, read * 100 / size))% of input", at: 1)
                    if read < size { time += " ETA " + Duration.clock(elapsed * Double(size - read) / Double(read)) }
                }
            }
            parts.append(time)
            return "\r" + RunProgressLine.fit(parts.joined(separator: " · "), width: RunProgressLine.terminalWidth()) + "\u{1B}[K"
        }
        if let line { StandardError.redraw(line) }
    }

    /// Clears the progress line, if one was drawn.
    public func end() { if drawsProgress { StandardError.clearLine() } }
}
