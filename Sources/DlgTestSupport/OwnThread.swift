import Foundation

/// Runs long synchronous work (a CPU-bound loop, a blocking call) on a thread of its own and awaits it.
/// A test that ran it inline would hold one of the few threads of Swift's cooperative pool (two on a
/// 2-core machine) for its whole length, and every other test's awaits (polls of a child's progress,
/// timeouts) would stall behind it.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (done: CheckedContinuation<T, Error>) in
        let thread = Thread {
            do { done.resume(returning: try work()) } catch { done.resume(throwing: error) }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// What `watch` saw.
public enum WatchOutcome: Sendable, Equatable {
    /// The condition held (then `delay` passed) while the subject still ran, and the action ran.
    case fired
    /// The subject stopped running first; the action did not run.
    case ended
    /// The condition did not hold within the timeout; the action did not run.
    case timedOut
}

/// Polls `condition` every 5 ms on a thread of its own while `running` holds; once it holds, waits
/// `delay` and, if still running, runs `action` at once on that thread. Tests that must act at a moment
/// of a child's progress (a kill after N checkpoints) use it, so the moment does not depend on when the
/// cooperative pool, busy with other tests, gets round to the test's next poll.
public func watch(until condition: @escaping @Sendable () -> Bool, while running: @escaping @Sendable () -> Bool,
                  timeout: Duration, delay: Duration = .zero, then action: @escaping @Sendable () -> Void) async -> WatchOutcome {
    (try? await onOwnThread { () -> WatchOutcome in
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            if !running() { return .ended }
            if clock.now >= deadline { return .timedOut }
            usleep(5_000)
        }
        if delay > .zero {
            let until = clock.now + delay
            while clock.now < until {
                if !running() { return .ended }
                usleep(2_000)
            }
        }
        guard running() else { return .ended }
        action()
        return .fired
    }) ?? .timedOut
}
