import Foundation

/// One per-minute limit (requests or tokens) that no sliding 60 s window exceeds: a log of what was
/// granted in the last window (exact: the sum over any window stays within the limit) plus a small
/// token bucket (a sixth of the limit, refilled at limit/60 per second) that spreads the minute's
/// allowance instead of letting it all go in the first second. A whole-minute bucket alone would let
/// about twice the limit through in some 60 s window; the log alone would burst.
struct RateLimiter {
    let limit: Int
    /// The window, a little over a minute: a request is counted when granted, the server counts it
    /// when it arrives a moment later.
    let span: Double
    private var log: [(t: Double, amount: Int, id: UInt64)] = []
    private var head = 0
    private(set) var sum = 0
    private var bucket: Double
    private var bucketTime: Double
    private let capacity: Double

    init(limit: Int, span: Double = 60.5, now: Double) {
        self.limit = max(1, limit)
        self.span = span
        capacity = max(1, Double(self.limit) / 6)
        bucket = capacity
        bucketTime = now
    }

    private var rate: Double { Double(limit) / 60 }

    private mutating func advance(_ now: Double) {
        while head < log.count, log[head].t + span <= now {
            sum -= log[head].amount
            head += 1
        }
        if head > 512, head * 2 > log.count {
            log.removeFirst(head)
            head = 0
        }
        if now > bucketTime {
            bucket = min(capacity, bucket + (now - bucketTime) * rate)
            bucketTime = now
        }
    }

    /// When `amount` may be granted: `now` if at once, else the earliest time worth checking again.
    /// An amount above what the limit can ever hold goes once nothing else is in the window.
    mutating func readyAt(_ amount: Int, now: Double) -> Double {
        advance(now)
        let need = min(Double(amount), capacity)
        var at = now
        if bucket < need { at = max(at, now + (need - bucket) / rate) }
        if sum > 0, sum + amount > limit {
            var freed = 0
            var i = head
            while i < log.count {
                freed += log[i].amount
                if sum - freed + amount <= limit || sum - freed == 0 { break }
                i += 1
            }
            at = max(at, (i < log.count ? log[i].t : now) + span)
        }
        return at
    }

    mutating func take(_ amount: Int, id: UInt64, now: Double) {
        advance(now)
        log.append((now, amount, id))
        sum += amount
        bucket -= Double(amount)
    }

    /// The reply's usage replaces the estimate taken for lease `id` (if it is still in the window).
    mutating func correct(id: UInt64, to amount: Int, now: Double) {
        advance(now)
        var i = log.count - 1
        while i >= head {
            if log[i].id == id {
                let delta = amount - log[i].amount
                log[i].amount = amount
                sum += delta
                bucket -= Double(delta)
                bucket = min(capacity, bucket)
                return
            }
            i -= 1
        }
    }
}

/// Additive increase, multiplicative decrease of one endpoint's concurrency limit: +1 per window of
/// successful requests at the limit (+1/4 within one of where the server last refused), x0.9 on a 429, a 503, a timeout or a latency well over the
/// endpoint's baseline, at most once per round trip (the requests sent before a decrease do not
/// cause another).
struct AdaptiveLimit {
    private(set) var limit: Double
    let minimum: Double
    let maximum: Double
    static let backoff = 0.9
    private var lastDecrease = -Double.infinity
    /// The limit at which the server last refused: near it the limit grows four times slower (it probes
    /// instead of running into the same wall each cycle).
    private var wall: Double?
    private var baseline: Double?
    private var latency: Double?

    init(initial: Int, minimum: Int, maximum: Int) {
        self.minimum = Double(max(1, minimum))
        self.maximum = Double(max(max(1, minimum), maximum))
        limit = min(self.maximum, max(self.minimum, Double(initial)))
    }

    var current: Int { Int(limit.rounded(.down)) }

    /// A request granted at `started` succeeded in `elapsed` seconds with `inFlight` requests (itself
    /// included) out. Returns the reason when the limit changed by a whole request.
    mutating func success(elapsed: Double, inFlight: Int, started: Double, now: Double) -> String? {
        let before = current
        latency = latency.map { 0.9 * $0 + 0.1 * elapsed } ?? elapsed
        // The baseline is the lowest smoothed latency seen, drifting up slowly so a server that became
        // slower for good is not chased down for ever.
        baseline = min((baseline ?? latency!) * 1.0005, latency!)
        if let l = latency, let b = baseline, l > 2 * b, l - b > 0.25 {
            if decrease(started: started, now: now) { return "latency" }
            return nil
        }
        if inFlight >= current {
            let near = wall.map { limit + 1 >= $0 } ?? false
            limit = min(maximum, limit + (near ? 0.25 : 1) / limit)
        }
        return current != before ? "increase" : nil
    }

    /// The server refused or did not answer a request granted at `started`. Returns whether the limit
    /// went down.
    mutating func decrease(started: Double, now: Double) -> Bool {
        guard started >= lastDecrease else { return false }
        lastDecrease = now
        wall = limit
        limit = max(minimum, limit * Self.backoff)
        return true
    }
}

/// What a server says about its own limits (OpenAI's `x-ratelimit-*` headers).
struct ServerRateLimit: Sendable, Equatable {
    var remainingRequests: Int?
    var resetRequests: Double?
    var remainingTokens: Int?
    var resetTokens: Double?

    var isEmpty: Bool { remainingRequests == nil && remainingTokens == nil }

    /// From header lines (`name: value`, any case).
    init(headers: [String: String]) {
        remainingRequests = headers["x-ratelimit-remaining-requests"].flatMap { Int($0) }
        resetRequests = headers["x-ratelimit-reset-requests"].flatMap(Self.duration)
        remainingTokens = headers["x-ratelimit-remaining-tokens"].flatMap { Int($0) }
        resetTokens = headers["x-ratelimit-reset-tokens"].flatMap(Self.duration)
    }

    init() {}

    /// OpenAI's durations: `1s`, `6m0s`, `20ms`, `1h2m3.5s`, or a bare number of seconds.
    static func duration(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let plain = Double(t) { return plain >= 0 ? plain : nil }
        var total = 0.0
        var number = ""
        var i = t.startIndex
        var sawUnit = false
        while i < t.endIndex {
            let c = t[i]
            if c.isNumber || c == "." { number.append(c); i = t.index(after: i); continue }
            var unit = String(c)
            let next = t.index(after: i)
            if c == "m", next < t.endIndex, t[next] == "s" { unit = "ms" }
            if c == "u" || c == "µ", next < t.endIndex, t[next] == "s" { unit = "us" }
            if c == "n", next < t.endIndex, t[next] == "s" { unit = "ns" }
            guard let value = Double(number) else { return nil }
            switch unit {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            case "ms": total += value / 1000
            case "us": total += value / 1_000_000
            case "ns": total += value / 1_000_000_000
            default: return nil
            }
            sawUnit = true
            number = ""
            i = t.index(i, offsetBy: unit.count)
        }
        return sawUnit && number.isEmpty ? total : nil
    }
}
