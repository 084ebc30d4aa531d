import Foundation

/// When to try a request again and how long to wait first.
enum RetryPolicy {
    /// Exponential backoff from 0.5 s, capped at 30 s, with jitter (half to all of the step), and at
    /// least the server's `Retry-After` (up to 2 minutes).
    static func delay(attempt: Int, retryAfter: Double?) -> Double {
        var delay = min(30, 0.5 * pow(2, Double(attempt - 1)))
        delay = delay * (0.5 + Double.random(in: 0..<0.5))
        if let r = retryAfter { delay = max(delay, min(r, 120)) }
        return delay
    }

    static func sleep(attempt: Int, retryAfter: Double?) async throws(LLMFailure) {
        do { try await Task.sleep(nanoseconds: UInt64(delay(attempt: attempt, retryAfter: retryAfter) * 1e9)) } catch {
            throw LLMFailure(kind: .unavailable, message: "cancelled")
        }
    }

    /// A status that no retry will change (the request or the credentials are wrong).
    static func isFinal(_ code: Int) -> Bool { [400, 401, 403, 404, 422].contains(code) }

    /// A server that answers but keeps failing this one request (llama.cpp answers 500 when the model's
    /// output breaks its parser) gave a bad reply, not an outage: the caller retries the call or drops
    /// the dialogue, and the run goes on.
    static func isBadReply(_ code: Int) -> Bool { code == 500 || (code > 400 && code < 500 && code != 429) }
}

/// A count shared by a client's calls (how many were answered), read without blocking them for long.
final class AnsweredCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
