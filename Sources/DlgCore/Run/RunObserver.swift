import Foundation

/// Where a run stands, for a progress display.
public struct RunSnapshot: Sendable {
    /// Completed dialogues per language, in the configured order.
    public var completed: [(language: String, count: Int)]
    /// Dialogues wanted per language (`run.total_samples`).
    public var target: Int
    public var dropped: Int
    public var inFlight: Int
}

/// Hears how a run goes, as it goes: the core reports, the tool decides what a person sees.
public protocol RunObserver: AnyObject {
    /// A dialogue came out of the stage loop. Called often; the observer decides how often to draw.
    func runAdvanced(_ snapshot: RunSnapshot)
    /// The stage loop ended (the summary follows).
    func runLoopEnded()
}
