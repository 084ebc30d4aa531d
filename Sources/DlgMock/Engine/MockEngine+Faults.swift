// Injected faults and latency, drawn in request order from the seeded generator.

import Foundation

extension MockEngine {
    // MARK: Faults and latency

    /// A transport fault to inject (or nil), plus content faults and latency, drawn in request order.
    struct Draws {
        var transport: MockFault?
        var content: Set<MockFault> = []
        var delayNanoseconds: Int64 = 0
    }

    func drawFaults(chat: Bool, transport: Bool = true) -> Draws {
        let faults = options.faults
        var draws = Draws()
        lock.lock()
        defer { lock.unlock() }
        if transport, faults.transportTotal > 0 {
            let u = random.nextUnit()
            var edge = 0.0
            for (kind, rate) in [(MockFault.rateLimited, faults.rateLimited), (.serverError, faults.serverError),
                                 (.timeout, faults.timeout), (.drop, faults.drop), (.malformed, faults.malformed),
                                 (.serviceUnavailable, faults.serviceUnavailable), (.resetInBody, faults.resetInBody),
                                 (.shortBody, faults.shortBody)] where rate > 0 {
                edge += rate
                if u < edge { draws.transport = kind; break }
            }
        }
        if chat, draws.transport == nil, faults.truncated > 0 || faults.missingFields > 0 || faults.wrongTypes > 0
            || faults.empty > 0 || faults.echo > 0 || faults.wrongLanguage > 0 {
            for (kind, rate) in [(MockFault.truncated, faults.truncated), (.missingFields, faults.missingFields),
                                 (.wrongTypes, faults.wrongTypes), (.empty, faults.empty), (.echo, faults.echo),
                                 (.wrongLanguage, faults.wrongLanguage)] where rate > 0 {
                if random.nextUnit() < rate { draws.content.insert(kind) }
            }
        }
        if !transport { return draws }
        let base = options.latencyMs
        var ms: Double
        switch options.latencyDistribution {
        case .fixed:
            ms = base
        case .uniform:
            ms = options.latencyJitterMs > 0 ? base + (random.nextUnit() * 2 - 1) * options.latencyJitterMs : base
        case .exponential:
            ms = base > 0 ? -log(1 - random.nextUnit()) * base : 0
        }
        ms = max(0, ms)
        draws.delayNanoseconds = Int64(ms * 1_000_000)
        if let transport = draws.transport { counters.faults[transport, default: 0] += 1 }
        return draws
    }

    /// The reply for an injected transport fault; nil when the fault only alters content.
    func transportOutcome(_ fault: MockFault?, delay: Int64) -> MockOutcome? {
        switch fault {
        case .rateLimited?:
            var response = errorResponse(
                429, "Rate limit reached for \(options.model) (injected by dlg-mock). Please try again in \(options.retryAfterSeconds)s.",
                type: "requests", code: "rate_limit_exceeded")
            response.headers.append(("retry-after", String(options.retryAfterSeconds)))
            return .respond(response, delayNanoseconds: delay)
        case .serverError?:
            return .respond(errorResponse(500, "The server had an error while processing your request (injected by dlg-mock).", type: "server_error"), delayNanoseconds: delay)
        case .serviceUnavailable?:
            return .respond(errorResponse(503, "The server is overloaded or not ready yet (injected by dlg-mock).", type: "server_error"), delayNanoseconds: delay)
        case .timeout?:
            return .hang
        case .drop?:
            return .drop(delayNanoseconds: delay)
        default:
            return nil
        }
    }

    /// A finished reply sent only in part, for the `resetInBody` and `shortBody` faults.
    func sentInPart(_ outcome: MockOutcome, _ fault: MockFault?) -> MockOutcome {
        guard fault == .resetInBody || fault == .shortBody, case .respond(let response, let delay) = outcome else { return outcome }
        return .partial(response, delayNanoseconds: delay, reset: fault == .resetInBody)
    }
}
