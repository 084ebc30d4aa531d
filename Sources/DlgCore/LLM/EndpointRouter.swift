import Foundation

/// Picks the endpoint for each request: weighted least in-flight, scaled by a latency EWMA, with
/// `max_in_flight` as a soft ceiling (an endpoint at its limit is chosen only when all are).
final class EndpointRouter: @unchecked Sendable {
    private let lock = NSLock()
    private var state: [String: (inFlight: Int, latency: Double)] = [:]

    private static func key(_ e: Endpoint) -> String { e.baseURL + "|" + e.name }

    func pick(_ endpoints: [Endpoint]) -> Endpoint {
        if endpoints.count == 1 { return endpoints[0] }
        return lock.withLock {
            var best: (Double, Double, Endpoint)?
            for e in endpoints {
                let s = state[Self.key(e)] ?? (0, 0.5)
                var pressure = Double(s.inFlight + 1) / max(e.weight, 1e-6)
                if e.maxInFlight > 0 && s.inFlight >= e.maxInFlight { pressure *= 1000 }
                let score = pressure * max(s.latency, 1e-3)
                let tie = Double.random(in: 0..<1)
                if best == nil || (score, tie) < (best!.0, best!.1) { best = (score, tie, e) }
            }
            return best!.2
        }
    }

    /// A request to `e` starts.
    func begin(_ e: Endpoint) {
        lock.withLock {
            var s = state[Self.key(e)] ?? (0, 0.5)
            s.inFlight += 1
            state[Self.key(e)] = s
        }
    }

    /// A request to `e` ended after `elapsed` seconds.
    func end(_ e: Endpoint, elapsed: Double) {
        lock.withLock {
            var s = state[Self.key(e)] ?? (1, 0.5)
            s.inFlight -= 1
            s.latency = 0.8 * s.latency + 0.2 * elapsed
            state[Self.key(e)] = s
        }
    }
}
