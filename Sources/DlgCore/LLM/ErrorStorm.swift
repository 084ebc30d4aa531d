import Foundation

/// Watches the outcome of every LLM call a process makes and trips when the share of failed calls among
/// the latest `window` calls (at least `min_calls` of them) passes `max_failure_rate`: a dead or
/// overloaded endpoint then stops the stage (exit 75) instead of dropping dialogues one by one and
/// spending the budget on retries. Once tripped it stays tripped for the process; `LLMClient` sends
/// nothing more, the records in flight go back to dlg-run unchanged, and a later run resumes them.
///
/// A call counts once, when it ends: a success (on any attempt) or a failure for good after its
/// retries: connection errors, timeouts, HTTP 5xx or 429 on every attempt, 401/403/404 (a key or model
/// that will not work), replies that are not chat completions. A call refused with 400/422 (one bad
/// request) or answered with bad content (the model, not the endpoint) is not counted; nor is a reply
/// served from the response cache.
public final class ErrorStorm: @unchecked Sendable {
    public let settings: LLMLayerSettings.ErrorStormSettings
    private let lock = NSLock()
    /// The latest outcomes, oldest first: nil for a success, else `endpoint: error`.
    private var ring: [String?] = []
    private var next = 0
    private var trippedMessage: String?

    public init(_ settings: LLMLayerSettings.ErrorStormSettings) { self.settings = settings }

    /// Why the process stopped calling the LLM, once the storm has tripped.
    public var tripped: String? { lock.withLock { trippedMessage } }

    /// A call succeeded.
    func success() { add(nil) }

    /// A call to `endpoint` failed with `error` (no secret in it: a status or a transport error).
    func failure(endpoint: String, error: String) { add("\(endpoint): \(error)") }

    private func add(_ outcome: String?) {
        guard settings.enabled else { return }
        lock.withLock {
            if trippedMessage != nil { return }
            let size = max(1, settings.window)
            if ring.count < size { ring.append(outcome) } else { ring[next] = outcome; next = (next + 1) % size }
            guard ring.count >= min(settings.minCalls, size) else { return }
            let failures = ring.compactMap { $0 }
            let rate = Double(failures.count) / Double(ring.count)
            guard !failures.isEmpty, rate > settings.maxFailureRate else { return }
            var counts: [String: Int] = [:]
            for f in failures { counts[f, default: 0] += 1 }
            let top = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!
            let more = counts.count > 1 ? " and \(counts.count - 1) other error(s)" : ""
            trippedMessage = "error storm: \(failures.count) of the last \(ring.count) LLM calls failed (llm.error_storm.max_failure_rate \(settings.maxFailureRate)); endpoint \(top.key) (\(top.value) times)\(more); stopped taking new work, the records in flight are checkpointed; run again with the same run id to resume once the server is healthy"
        }
    }
}
