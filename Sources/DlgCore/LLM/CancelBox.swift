import Foundation

/// Holds a request id until the request is registered, so a cancellation that comes first is not lost.
final class CancelBox: @unchecked Sendable {
    private let lock = NSLock()
    private var id: UInt64?
    private var cancelled = false

    /// Records the id; true when the task was cancelled meanwhile (the caller then cancels it).
    func set(_ id: UInt64) -> Bool { lock.withLock { self.id = id; return cancelled } }
    /// Marks the task cancelled; the id if already registered.
    func cancel() -> UInt64? { lock.withLock { cancelled = true; return id } }
}
