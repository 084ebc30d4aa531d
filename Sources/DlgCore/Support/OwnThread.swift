// Blocking work on threads of its own, off Swift's cooperative pool.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Plain threads for work that blocks: a child's reaper, a capture's poll loop. On a 2-core machine the
/// cooperative pool has two threads, and a shared dispatch queue can starve under load; a thread that
/// blocks must be one nobody else waits on.
public enum OwnThread {
    /// Runs `body` on a new detached thread (not the cooperative pool, not a shared queue that could
    /// starve); false, and `body` not run, if no thread could be made.
    static func detach(stackSize: Int, _ body: @escaping () -> Void) -> Bool {
        final class Box { let body: () -> Void; init(_ body: @escaping () -> Void) { self.body = body } }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, stackSize)
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        if rc != 0 { Unmanaged<Box>.fromOpaque(box).release() }
        return rc == 0
    }

    /// `work` on a thread of its own, awaited; inline only if no thread can be made.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (done: CheckedContinuation<T, Never>) in
            if !detach(stackSize: 1 << 20, { done.resume(returning: work()) }) { done.resume(returning: work()) }
        }
    }

    /// `work`, which may throw, on a thread of its own, awaited: blocking calls (a child's wait, a script
    /// that takes seconds) stay off the cooperative pool.
    public static func runThrowing<T: Sendable>(_ work: @escaping @Sendable () throws(DlgError) -> T) async throws(DlgError) -> T {
        let result: Result<T, DlgError> = await run { () -> Result<T, DlgError> in
            do throws(DlgError) { return .success(try work()) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
