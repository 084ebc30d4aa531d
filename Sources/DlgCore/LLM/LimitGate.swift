import Foundation

/// How `LLMClient` gets leave to send: from the limits of its own process, or from the run's broker.
protocol LimitGate: AnyObject, Sendable {
    /// Waits for a lease; nil when the task was cancelled or the run's broker is gone.
    func acquire(_ spec: EndpointLimitSpec, tokens: Int) async -> LeaseGrant?
    func release(_ lease: LeaseGrant, _ outcome: LeaseOutcome)
    /// A refusal learned by this process, for the others of the run.
    func learned(_ baseURL: String, _ snapshot: EndpointCapabilities.Snapshot)
    func states() -> [EndpointLimitState]
}

/// Leave to send one request to an endpoint.
struct LeaseGrant: Sendable {
    var id: UInt64
    /// The endpoint's concurrency limit when granted; 0 for none.
    var limit: Int
    /// What the run knows the endpoint refuses (only from the run's broker).
    var capabilities: EndpointCapabilities.Snapshot?
    /// Granted by the stage itself, without asking the broker (an endpoint with no limit to hold, not
    /// paused): its end is only reported (`LimitBrokerClient`), with the endpoint's name and URL.
    var local = false
    var name = ""
    var baseURL = ""
}

/// How a request granted a lease ended.
enum LeaseEnd: String, Sendable {
    /// Answered 200.
    case ok
    /// 429 or 503: the server is at its limit.
    case overloaded
    case timeout
    /// Anything else (a 500, a refused parameter, a connection error): no signal about load.
    case failed
}

struct LeaseOutcome: Sendable {
    var end: LeaseEnd
    var elapsed: Double = 0
    /// The reply's usage (prompt + completion tokens), when it said.
    var tokens: Int?
    var retryAfter: Double?
    var server = ServerRateLimit()
}

/// Where one endpoint's limits stand: for the progress line and `llm.log`.
public struct EndpointLimitState: Sendable, Equatable {
    public var name: String
    public var inFlight: Int
    /// Requests waiting for a slot or for the rate limit.
    public var waiting: Int
    /// The concurrency limit now (the adaptive one when on, else `max_in_flight`); 0 for none.
    public var limit: Int
    /// `max_in_flight` (this shard's share of it); 0 for none.
    public var maxInFlight: Int
    public var adaptive: Bool
}
