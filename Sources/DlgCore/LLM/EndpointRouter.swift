import Foundation

/// Picks the endpoint for each request: weighted least in-flight, scaled by a latency EWMA, with
/// `max_in_flight` as a preference (an endpoint at its limit is chosen only when all are; the ceiling
/// itself is the lease a request then waits for, `LimitScheduler`), and
/// endpoints that refused a connection left out for a while (a vLLM replica that died).
final class EndpointRouter: @unchecked Sendable {
    private let lock = NSLock()
    private var state: [String: (inFlight: Int, latency: Double)] = [:]
    /// Endpoints that could not be reached: left out of routing until `until`; `strikes` doubles the
    /// wait while they stay unreachable (2 s, 4 s, ... 30 s), so a replica that comes back is used again.
    private var down: [String: (until: Date, strikes: Int)] = [:]

    private static func key(_ e: Endpoint) -> String { e.baseURL + "|" + e.name }

    func pick(_ endpoints: [Endpoint]) -> Endpoint {
        if endpoints.count == 1 { return endpoints[0] }
        return lock.withLock {
            let now = Date()
            let reachable = endpoints.filter { (down[Self.key($0)]?.until ?? .distantPast) <= now }
            var best: (Double, Double, Endpoint)?
            // When every endpoint is out, the one that comes back first is tried.
            if reachable.isEmpty { return endpoints.min { down[Self.key($0)]!.until < down[Self.key($1)]!.until }! }
            for e in reachable {
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

    /// `e` refused or dropped the connection: route around it for a while. Returns whether another
    /// endpoint of `endpoints` can take the request now.
    @discardableResult
    func markUnreachable(_ e: Endpoint, among endpoints: [Endpoint]) -> Bool {
        lock.withLock {
            let now = Date()
            let strikes = (down[Self.key(e)]?.strikes ?? 0) + 1
            down[Self.key(e)] = (now.addingTimeInterval(min(30, 2 * pow(2, Double(strikes - 1)))), strikes)
            return endpoints.contains { (down[Self.key($0)]?.until ?? .distantPast) <= now }
        }
    }

    /// `e` answered: it is in routing again.
    func markReachable(_ e: Endpoint) {
        lock.withLock { if down[Self.key(e)] != nil { down[Self.key(e)] = nil } }
    }

    /// The endpoints that failed to connect and have not answered since, by name, whether or not their
    /// time out of routing has passed (a count of what happened, not of the clock: a test on a loaded
    /// machine can take longer than the window).
    func struck(_ endpoints: [Endpoint]) -> [String] {
        lock.withLock { endpoints.filter { down[Self.key($0)] != nil }.map(\.name) }
    }

    /// The endpoints left out of routing now, by name.
    func unreachable(_ endpoints: [Endpoint]) -> [String] {
        lock.withLock {
            let now = Date()
            return endpoints.filter { (down[Self.key($0)]?.until ?? .distantPast) > now }.map(\.name)
        }
    }
}
