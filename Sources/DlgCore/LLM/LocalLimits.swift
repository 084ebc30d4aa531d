import Foundation

/// The limits of a process on its own (a stage run by hand, or no broker).
final class LocalLimits: LimitGate {
    let scheduler: LimitScheduler

    init(_ layer: LLMLayerSettings) {
        scheduler = LimitScheduler(global: layer.rateLimit)
    }

    func acquire(_ spec: EndpointLimitSpec, tokens: Int) async -> LeaseGrant? {
        let box = CancelBox()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<LeaseGrant?, Never>) in
                let id = scheduler.acquire(spec, tokens: tokens) { c.resume(returning: $0) }
                if box.set(id) { scheduler.cancel(id) }
            }
        } onCancel: {
            if let id = box.cancel() { scheduler.cancel(id) }
        }
    }

    func release(_ lease: LeaseGrant, _ outcome: LeaseOutcome) { scheduler.release(lease.id, outcome) }
    func learned(_ baseURL: String, _ snapshot: EndpointCapabilities.Snapshot) {}
    func states() -> [EndpointLimitState] { scheduler.states() }
}
