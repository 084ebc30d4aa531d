import Foundation

/// One per-minute limit (requests or tokens) that no sliding 60 s window of what the server receives
/// exceeds, however late a request reaches it: a request counts from its grant until 60 s after its
/// reply (before the reply we cannot know when the server got it; after it, it surely had), and the
/// limit holds over the requests out plus those answered in the last minute. So two requests that
/// could fall in one server minute are always counted together; the price is that a request's latency
/// adds to its minute (at 2 s latency a run gets 60/62 of the limit). A small token bucket (a sixth of
/// the limit, refilled at limit/60 per second) spreads the minute's allowance instead of letting it all
/// go in the first second. A bucket of a whole minute alone lets about twice the limit through some
/// 60 s window.
struct RateLimiter {
    let limit: Int
    let span: Double
    /// Answered requests, in the order they ended (their end times only grow).
    private var log: [(t: Double, amount: Int)] = []
    private var head = 0
    /// What the answered requests of the last `span` add up to.
    private(set) var sum = 0
    /// Requests out, by lease id.
    private var out: [UInt64: Int] = [:]
    private(set) var outSum = 0
    private var bucket: Double
    private var bucketTime: Double
    private let capacity: Double

    init(limit: Int, span: Double = 60, now: Double) {
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

    /// When `amount` may be granted: `now` if at once, a later time worth checking again, or infinity
    /// when only a reply can make room. An amount above what the limit can ever hold goes once
    /// nothing else counts.
    mutating func readyAt(_ amount: Int, now: Double) -> Double {
        advance(now)
        let need = min(Double(amount), capacity)
        var at = now
        if bucket < need { at = max(at, now + (need - bucket) / rate) }
        let total = sum + outSum
        if total > 0, total + amount > limit {
            if outSum > 0, outSum + amount > limit { return .infinity }
            var freed = 0
            var i = head
            while i < log.count {
                freed += log[i].amount
                if total - freed + amount <= limit || total - freed == 0 { break }
                i += 1
            }
            at = max(at, (i < log.count ? log[i].t : now) + span)
        }
        return at
    }

    /// Lease `id` goes with `amount`.
    mutating func take(_ amount: Int, id: UInt64, now: Double) {
        advance(now)
        out[id] = amount
        outSum += amount
        bucket -= Double(amount)
    }

    /// Lease `id` was answered (or given up); `used` (the reply's usage) replaces the estimate.
    mutating func finish(id: UInt64, used: Int?, now: Double) {
        advance(now)
        guard let taken = out.removeValue(forKey: id) else { return }
        outSum -= taken
        let amount = used ?? taken
        log.append((now, amount))
        sum += amount
        bucket = min(capacity, bucket - Double(amount - taken))
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
