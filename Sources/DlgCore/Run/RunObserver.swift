import Foundation

/// Where a run stands, for a progress display.
public struct RunSnapshot: Sendable {
    /// Completed dialogues per language, in the configured order.
    public var completed: [(language: String, count: Int)]
    /// Dialogues wanted per language (`run.total_samples`).
    public var target: Int
    public var dropped: Int
    /// Dropped dialogues per reason.
    public var droppedByReason: [String: Int]
    public var inFlight: Int
    /// Tokens every dialogue of the run has spent so far (finished or not), per agent.
    public var usageByAgent: [String: TokenUsage]
    /// Seconds since this process started the run.
    public var elapsed: Double
    /// Each endpoint's limits as the run's broker holds them (current adaptive limit, in flight).
    public var endpointLimits: [EndpointLimitState] = []

    public var completedTotal: Int { completed.reduce(0) { $0 + $1.count } }
    public var targetTotal: Int { target * completed.count }
    public var usage: TokenUsage { usageByAgent.values.reduce(TokenUsage(), +) }

    /// The most frequent drop reason, if any dialogue was dropped.
    public var topDropReason: String? {
        droppedByReason.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key
    }

    /// One plain line (for the log when no terminal shows the progress line).
    public var plainText: String {
        let langs = completed.map { "\($0.language) \($0.count)/\(target)" }.joined(separator: ", ")
        return "progress: \(langs) completed, \(dropped) dropped, \(inFlight) in flight, \(usage.totalTokens) tokens, \(Int(elapsed)) s"
    }
}

/// Hears how a run goes, as it goes: the core reports, the tool decides what a person sees.
public protocol RunObserver: AnyObject {
    /// A dialogue came out of the stage loop. Called often; the observer decides how often to draw.
    func runAdvanced(_ snapshot: RunSnapshot)
    /// The stage loop ended (the summary follows).
    func runLoopEnded()
}
