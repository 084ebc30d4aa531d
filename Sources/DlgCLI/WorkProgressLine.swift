import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A long job's progress line on a terminal (index building, embedding, an export): done (of total and
/// percent when known), per minute, elapsed and ETA; redrawn at most four times a second. With no total,
/// a job reading a regular file on stdin shows how far through the file it is.
public final class WorkProgressLine: WorkObserver, @unchecked Sendable {
    private let tool: String
    private let lock = NSLock()
    private let started = Date()
    private var lastDraw = Date.distantPast
    private var drew = false

    /// Nil unless stderr is a terminal and `DLG_PROGRESS` is not 0.
    public init?(tool: String) {
        guard StandardError.showsProgress else { return nil }
        self.tool = tool
    }

    public func advanced(_ done: Int, of total: Int?, _ what: String) {
        let line: String? = lock.withLock {
            guard Date().timeIntervalSince(lastDraw) >= 0.25 else { return nil }
            lastDraw = Date()
            drew = true
            let elapsed = max(0.001, Date().timeIntervalSince(started))
            var parts = ["\(tool): \(done)" + (total.map { "/\($0)" } ?? "") + " \(what)"]
            var fraction: Double? = nil
            if let total, total > 0 {
                fraction = Double(done) / Double(total)
            } else {
                var st = stat()
                if fstat(0, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 {
                    fraction = min(1, Double(lseek(0, 0, SEEK_CUR)) / Double(st.st_size))
                }
            }
            if let f = fraction { parts.append("\(Int(f * 100))%") }
            parts.append(String(format: "%.1f/min", Double(done) / elapsed * 60))
            var time = Duration.clock(elapsed)
            if let f = fraction, f > 0, f < 1 { time += " ETA " + Duration.clock(elapsed * (1 - f) / f) }
            parts.append(time)
            return "\r" + RunProgressLine.fit(parts.joined(separator: " · "), width: RunProgressLine.terminalWidth()) + "\u{1B}[K"
        }
        if let line { StandardError.redraw(line) }
    }

    public func ended() {
        let clear = lock.withLock { drew }
        if clear { StandardError.clearLine() }
    }
}
