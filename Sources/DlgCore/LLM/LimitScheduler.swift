import Foundation

/// The limits one process (or, in the broker, one run) holds: per endpoint a real in-flight gate
/// (`max_in_flight`, or the adaptive limit under it), per-minute request and token limits per endpoint
/// and over all of them, pauses the server asked for (`Retry-After`, `x-ratelimit-*`), and what each
/// endpoint was found to refuse. Requests wait in arrival order; one that cannot go yet does not hold
/// up one to another endpoint.
final class LimitScheduler: @unchecked Sendable {
    final class EndpointState {
        let spec: EndpointLimitSpec
        let cap: Int
        var requests: RateLimiter?
        var tokens: RateLimiter?
        var adaptive: AdaptiveLimit?
        var inFlight = 0
        var pausedUntil = 0.0

        init(_ spec: EndpointLimitSpec, scale: Double, now: Double) {
            self.spec = spec
            cap = spec.maxInFlight > 0 ? max(1, Int(Double(spec.maxInFlight) * scale)) : 0
            requests = spec.rateLimit.requestsPerMinute.map { RateLimiter(limit: LimitScheduler.share($0, scale), now: now) }
            tokens = spec.rateLimit.tokensPerMinute.map { RateLimiter(limit: LimitScheduler.share($0, scale), now: now) }
            if spec.adaptive {
                let top = cap > 0 ? cap : 1024
                adaptive = AdaptiveLimit(initial: min(spec.adaptiveInitial, top), minimum: min(spec.adaptiveMin, top), maximum: top)
            }
        }

        var limit: Int { adaptive?.current ?? cap }
    }

    struct Waiter {
        var id: UInt64
        var key: String
        var tokens: Int
        var done: @Sendable (LeaseGrant?) -> Void
    }

    struct Lease {
        var key: String
        var tokens: Int
        var started: Double
    }

    private let lock = NSLock()
    private let scale: Double
    private var globalRequests: RateLimiter?
    private var globalTokens: RateLimiter?
    private var endpoints: [String: EndpointState] = [:]
    private var order: [String] = []
    private var waiters: [Waiter] = []
    private var leases: [UInt64: Lease] = [:]
    private var nextID: UInt64 = 1
    private var timerAt: Double?
    private var capabilities: [String: EndpointCapabilities.Snapshot] = [:]
    /// Hears a line for `llm.log` when a limit changes or an endpoint pauses.
    var onEvent: (@Sendable (String) -> Void)?
    /// Hears an endpoint (its `EndpointLimitSpec.key`) paused for some seconds: the broker tells the stages.
    var onPause: (@Sendable (String, Double) -> Void)?

    /// `scale` is this process's share of every limit (1 / shards for a shard of a distributed run).
    init(global: LLMLayerSettings.RateLimit, scale: Double = 1) {
        self.scale = min(1, max(scale, 1e-6))
        let now = Self.now()
        globalRequests = global.requestsPerMinute.map { RateLimiter(limit: Self.share($0, self.scale), now: now) }
        globalTokens = global.tokensPerMinute.map { RateLimiter(limit: Self.share($0, self.scale), now: now) }
    }

    static func share(_ limit: Int, _ scale: Double) -> Int { max(1, Int(Double(limit) * scale)) }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Asks for a lease; `done` gets it (on another thread, maybe at once), or nil when cancelled.
    /// Returns the request's id, for `cancel` and `release`.
    @discardableResult
    func acquire(_ spec: EndpointLimitSpec, tokens: Int, done: @escaping @Sendable (LeaseGrant?) -> Void) -> UInt64 {
        let (id, fire) = lock.withLock { () -> (UInt64, [() -> Void]) in
            let id = nextID
            nextID += 1
            if endpoints[spec.key] == nil {
                endpoints[spec.key] = EndpointState(spec, scale: scale, now: Self.now())
                order.append(spec.key)
            }
            waiters.append(Waiter(id: id, key: spec.key, tokens: max(0, tokens), done: done))
            return (id, pump())
        }
        for f in fire { f() }
        return id
    }

    /// Gives up a request still waiting (its `done` gets nil); a granted one is released instead.
    func cancel(_ id: UInt64) {
        let w: Waiter? = lock.withLock {
            guard let i = waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return waiters.remove(at: i)
        }
        w?.done(nil)
    }

    /// A granted request ended.
    func release(_ id: UInt64, _ outcome: LeaseOutcome) {
        var events: [String] = []
        var paused: (key: String, seconds: Double)?
        let fire = lock.withLock { () -> [() -> Void] in
            guard let lease = leases.removeValue(forKey: id), let e = endpoints[lease.key] else { return [] }
            let now = Self.now()
            let before = e.inFlight
            e.inFlight -= 1
            // The minute of a request ends 60 s after its reply, its tokens corrected by the usage.
            e.requests?.finish(id: id, used: nil, now: now)
            globalRequests?.finish(id: id, used: nil, now: now)
            e.tokens?.finish(id: id, used: outcome.tokens, now: now)
            globalTokens?.finish(id: id, used: outcome.tokens, now: now)
            if e.adaptive != nil {
                let name = e.spec.name
                var reason: String?
                switch outcome.end {
                case .ok: reason = e.adaptive!.success(elapsed: outcome.elapsed, inFlight: before, started: lease.started, now: now)
                case .overloaded, .timeout:
                    if e.adaptive!.decrease(started: lease.started, now: now) {
                        reason = outcome.end == .timeout ? "timeout" : "overloaded"
                    }
                case .failed: break
                }
                if let reason {
                    events.append("adaptive_limit endpoint=\(name) limit=\(e.limit) max=\(e.cap) in_flight=\(e.inFlight) reason=\(reason)")
                }
            }
            paused = Self.pause(e, outcome, tokens: lease.tokens, now: now, events: &events)
            return pump()
        }
        for f in fire { f() }
        if let onEvent { for line in events { onEvent(line) } }
        if let paused, let onPause { onPause(paused.key, paused.seconds) }
    }

    /// The end of a request granted without a lease (`LeaseGrant.local`: an endpoint with nothing to
    /// count): only what the server said of its load matters, a pause it asked for.
    func report(_ spec: EndpointLimitSpec, _ outcome: LeaseOutcome) {
        var events: [String] = []
        var paused: (key: String, seconds: Double)?
        let fire = lock.withLock { () -> [() -> Void] in
            let now = Self.now()
            if endpoints[spec.key] == nil {
                endpoints[spec.key] = EndpointState(spec, scale: scale, now: now)
                order.append(spec.key)
            }
            paused = Self.pause(endpoints[spec.key]!, outcome, tokens: 0, now: now, events: &events)
            return paused == nil ? [] : pump()
        }
        for f in fire { f() }
        if let onEvent { for line in events { onEvent(line) } }
        if let paused, let onPause { onPause(paused.key, paused.seconds) }
    }

    /// Pauses the endpoint when the server asked for it (`Retry-After` on a 429/503, `x-ratelimit-*`
    /// at 0); the pause set, if any (under the lock).
    private static func pause(_ e: EndpointState, _ outcome: LeaseOutcome, tokens: Int, now: Double,
                              events: inout [String]) -> (key: String, seconds: Double)? {
        var pause: (Double, String)?
        if outcome.end == .overloaded, let wait = outcome.retryAfter, wait > 0 { pause = (min(wait, 120), "retry-after") }
        if outcome.server.remainingRequests == 0, let wait = outcome.server.resetRequests, wait > 0 {
            pause = (max(pause?.0 ?? 0, min(wait, 120)), "x-ratelimit-remaining-requests=0")
        }
        if let left = outcome.server.remainingTokens, left < max(1, tokens), let wait = outcome.server.resetTokens, wait > 0 {
            pause = (max(pause?.0 ?? 0, min(wait, 120)), "x-ratelimit-remaining-tokens=\(left)")
        }
        guard let (wait, why) = pause, now + wait > e.pausedUntil else { return nil }
        e.pausedUntil = now + wait
        events.append("endpoint_paused endpoint=\(e.spec.name) seconds=\(String(format: "%.3f", wait)) reason=\(why)")
        return (e.spec.key, wait)
    }

    /// Endpoints paused now, with the seconds left: for a stage that connects to the broker late.
    func pauses() -> [(key: String, seconds: Double)] {
        lock.withLock {
            let now = Self.now()
            return order.compactMap { key in endpoints[key].flatMap { $0.pausedUntil > now ? (key, $0.pausedUntil - now) : nil } }
        }
    }

    /// What every endpoint was found to refuse so far.
    func knownCapabilities() -> [(baseURL: String, snapshot: EndpointCapabilities.Snapshot)] {
        lock.withLock { capabilities.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    /// An endpoint was found to refuse a parameter: kept for every process of the run.
    func learn(_ baseURL: String, _ s: EndpointCapabilities.Snapshot) {
        lock.withLock {
            if let old = capabilities[baseURL] {
                capabilities[baseURL] = EndpointCapabilities.Snapshot(json: old.json.rawValue < s.json.rawValue ? old.json : s.json,
                                                                      tools: old.tools && s.tools, seed: old.seed && s.seed)
            } else {
                capabilities[baseURL] = s
            }
        }
    }

    /// Every endpoint seen so far, in the order first seen.
    func states() -> [EndpointLimitState] {
        lock.withLock {
            order.compactMap { key in
                guard let e = endpoints[key] else { return nil }
                return EndpointLimitState(name: e.spec.name, inFlight: e.inFlight, waiting: waiters.lazy.filter { $0.key == key }.count,
                                          limit: e.limit, maxInFlight: e.cap, adaptive: e.adaptive != nil)
            }
        }
    }

    /// Grants what can go now (under the lock); returns the callbacks to run once it is released.
    private func pump() -> [() -> Void] {
        guard !waiters.isEmpty else { return [] }
        let now = Self.now()
        var wake = Double.infinity
        var fire: [() -> Void] = []
        var remaining: [Waiter] = []
        remaining.reserveCapacity(waiters.count)
        for w in waiters {
            guard let e = endpoints[w.key] else { continue }
            if e.pausedUntil > now { wake = min(wake, e.pausedUntil); remaining.append(w); continue }
            let limit = e.limit
            if limit > 0 && e.inFlight >= limit { remaining.append(w); continue }
            var at = now
            if e.requests != nil { at = max(at, e.requests!.readyAt(1, now: now)) }
            if e.tokens != nil { at = max(at, e.tokens!.readyAt(w.tokens, now: now)) }
            if globalRequests != nil { at = max(at, globalRequests!.readyAt(1, now: now)) }
            if globalTokens != nil { at = max(at, globalTokens!.readyAt(w.tokens, now: now)) }
            if at > now { wake = min(wake, at); remaining.append(w); continue }
            e.requests?.take(1, id: w.id, now: now)
            e.tokens?.take(w.tokens, id: w.id, now: now)
            globalRequests?.take(1, id: w.id, now: now)
            globalTokens?.take(w.tokens, id: w.id, now: now)
            e.inFlight += 1
            leases[w.id] = Lease(key: w.key, tokens: w.tokens, started: now)
            let grant = LeaseGrant(id: w.id, limit: limit, capabilities: capabilities[e.spec.baseURL])
            let done = w.done
            fire.append { done(grant) }
        }
        waiters = remaining
        if wake < .infinity, timerAt.map({ wake < $0 - 0.0005 }) ?? true {
            timerAt = wake
            let delay = max(0, wake - now)
            DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [weak self] in self?.timerFired() }
        }
        return fire
    }

    private func timerFired() {
        let fire = lock.withLock { () -> [() -> Void] in
            timerAt = nil
            return pump()
        }
        for f in fire { f() }
    }
}
