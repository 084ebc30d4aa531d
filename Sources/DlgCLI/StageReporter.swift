import DlgCore
import Foundation

/// What a person sees of a stage run: each skipped bad line as `tool: error: source:line: problem`,
/// and, when stderr is a terminal, a progress line (done, in flight, dropped, tokens/s).
public final class StageReporter: StageObserver, @unchecked Sendable {
    private let lock = NSLock()
    private let tool: String
    private let drawsProgress: Bool
    private var done = 0, inFlight = 0, dropped = 0
    private var lastDraw = Date.distantPast
    private let startTime = Date()
    private let tokens: @Sendable () -> Int

    public init(tool: String, tokens: @escaping @Sendable () -> Int) {
        self.tool = tool
        self.tokens = tokens
        drawsProgress = StandardError.showsProgress
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
            let rate = Double(tokens()) / max(0.001, Date().timeIntervalSince(startTime))
            return "\r\(tool): \(done) done, \(inFlight) in flight, \(dropped) dropped, \(Int(rate)) tokens/s"
        }
        if let line { StandardError.redraw(line) }
    }

    /// Clears the progress line, if one was drawn.
    public func end() { if drawsProgress { StandardError.clearLine() } }
}
