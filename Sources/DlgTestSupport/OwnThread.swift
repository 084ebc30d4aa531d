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
