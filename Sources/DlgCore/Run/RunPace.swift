import Foundation

/// How fast a run completes dialogues, over a recent window, and when it will be done at that pace.
/// Times are seconds on any clock the caller chooses (tests give a fake one).
public struct RunPace: Sendable {
    /// Seconds of history the rate is taken over; a run's first minutes (and a resumed run's) use what
    /// they have.
    public let window: Double
    private var samples: [(time: Double, completed: Int)] = []

    public init(window: Double = 120) { self.window = window }

    /// The number of completed dialogues at `time`.
    public mutating func record(completed: Int, at time: Double) {
        samples.append((time, completed))
        // Keep one sample older than the window, so the rate always spans a whole window once it can.
        while samples.count > 2 && samples[1].time <= time - window { samples.removeFirst() }
    }

    /// Completed dialogues per minute over the window; nil until two samples a moment apart exist.
    public func perMinute(at time: Double) -> Double? {
        guard let first = samples.first, let last = samples.last else { return nil }
        let span = time - first.time
        guard span >= 1 else { return nil }
        return Double(last.completed - first.completed) / span * 60
    }

    /// Seconds until `remaining` more dialogues are completed at the current pace; nil while the pace is
    /// unknown or zero.
    public func eta(remaining: Int, at time: Double) -> Double? {
        guard remaining > 0 else { return 0 }
        guard let rate = perMinute(at: time), rate > 0 else { return nil }
        return Double(remaining) / rate * 60
    }

    /// The cost of the whole run if the dialogues still to come cost what the completed ones did.
    public static func projectedCost(costSoFar: Double, completed: Int, target: Int) -> Double? {
        guard completed > 0 else { return nil }
        return costSoFar * Double(max(target, completed)) / Double(completed)
    }
}
