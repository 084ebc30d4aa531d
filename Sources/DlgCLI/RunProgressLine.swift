import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// dlg-run's progress line on a terminal: completed / target (percent) overall and per language,
/// dropped (top reason), in flight, each endpoint's adaptive concurrency limit, dialogues per minute over the last two minutes, elapsed and ETA,
/// tokens and, when `llm.price` is set, the cost so far and the projected total. Redrawn in place at
/// most four times a second, cut (not wrapped) to the terminal's width.
public final class RunProgressLine: RunObserver {
    private let tool: String
    private let pricing: Pricing
    private var pace = RunPace()
    private var lastDraw = -Double.infinity
    private let clock: () -> Double

    /// Nil unless stderr is a terminal and `DLG_PROGRESS` is not 0.
    public init?(tool: String, pricing: Pricing, clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) {
        guard StandardError.showsProgress else { return nil }
        self.tool = tool
        self.pricing = pricing
        self.clock = clock
    }

    public func runAdvanced(_ s: RunSnapshot) {
        let now = clock()
        pace.record(completed: s.completedTotal, at: now)
        guard now - lastDraw >= 0.25 else { return }
        lastDraw = now
        let line = Self.line(tool: tool, s, pace: pace, pricing: pricing, now: now)
        StandardError.redraw("\r" + Self.fit(line, width: Self.terminalWidth()) + "\u{1B}[K")
    }

    public func runLoopEnded() { StandardError.clearLine() }

    /// The line's text (without the carriage return), from a snapshot and the pace at `now`.
    public static func line(tool: String, _ s: RunSnapshot, pace: RunPace, pricing: Pricing, now: Double) -> String {
        var parts: [String] = []
        let done = s.completedTotal, target = s.targetTotal
        let percent = target > 0 ? Int((Double(done) / Double(target) * 100).rounded(.down)) : 0
        var head = "\(tool): \(done)/\(target) (\(percent)%)"
        if s.completed.count > 1 { head += " [" + s.completed.map { "\($0.language) \($0.count)" }.joined(separator: ", ") + "]" }
        parts.append(head)
        parts.append(s.dropped == 0 ? "0 dropped" : "\(s.dropped) dropped (\(s.topDropReason ?? "unknown"))")
        parts.append("\(s.inFlight) in flight")
        // The adaptive concurrency limit of each endpoint that has one, out of its max_in_flight.
        let adaptive = s.endpointLimits.filter(\.adaptive)
        if !adaptive.isEmpty {
            parts.append("limit " + adaptive.map { "\($0.name) \($0.limit)" + ($0.maxInFlight > 0 ? "/\($0.maxInFlight)" : "") }
                .joined(separator: ", "))
        }
        if let rate = pace.perMinute(at: now) { parts.append(String(format: "%.1f/min", rate)) }
        var time = Duration.clock(s.elapsed)
        if let eta = pace.eta(remaining: max(0, target - done), at: now) { time += " ETA " + Duration.clock(eta) }
        parts.append(time)
        let usage = s.usage
        parts.append("\(Count.short(usage.totalTokens)) tokens")
        if pricing.isSet {
            let cost = pricing.cost(s.usageByAgent)
            var text = Money.format(cost, pricing.currency)
            if let projected = RunPace.projectedCost(costSoFar: cost, completed: done, target: target) {
                text += " of ~" + Money.format(projected, pricing.currency)
            }
            parts.append(text)
        }
        return parts.joined(separator: " · ")
    }

    /// `text` cut to `width` columns (counting characters; the line holds no wide ones but language names).
    public static func fit(_ text: String, width: Int) -> String {
        guard text.count > width, width > 1 else { return text }
        return String(text.prefix(width - 1)) + "…"
    }

    static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }
}

/// Durations as a person reads them.
enum Duration {
    /// `42s`, `3m05s`, `2h07m`.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}

/// Counts as a person reads them: `950`, `12.3k`, `4.1M`.
enum Count {
    static func short(_ n: Int) -> String {
        if n < 1000 { return "\(n)" }
        if n < 1_000_000 { return String(format: "%.1fk", Double(n) / 1000) }
        return String(format: "%.1fM", Double(n) / 1_000_000)
    }
}

enum Money {
    static func format(_ amount: Double, _ currency: String) -> String {
        let digits = amount < 10 ? 4 : 2
        return currency == "USD" ? String(format: "$%.\(digits)f", amount) : String(format: "%.\(digits)f \(currency)", amount)
    }
}
