/// What limits the requests to one endpoint. Sent with every lease request, so the run's broker
/// needs no configuration of its own beyond the global limits.
public struct EndpointLimitSpec: Sendable, Equatable {
    public var name: String
    public var baseURL: String
    /// `max_in_flight`; 0 for no ceiling.
    public var maxInFlight: Int
    /// The endpoint's own `rate_limit`.
    public var rateLimit: LLMLayerSettings.RateLimit
    public var adaptive: Bool
    public var adaptiveMin: Int
    public var adaptiveInitial: Int

    var key: String { baseURL + "|" + name }

    init(_ e: Endpoint, layer: LLMLayerSettings) {
        name = e.name
        baseURL = e.baseURL
        maxInFlight = e.maxInFlight
        rateLimit = e.rateLimit
        adaptive = layer.adaptive.enabled
        adaptiveMin = layer.adaptive.min
        adaptiveInitial = layer.adaptive.initial
    }

    init(name: String, baseURL: String, maxInFlight: Int, rateLimit: LLMLayerSettings.RateLimit, adaptive: Bool,
         adaptiveMin: Int, adaptiveInitial: Int) {
        self.name = name
        self.baseURL = baseURL
        self.maxInFlight = maxInFlight
        self.rateLimit = rateLimit
        self.adaptive = adaptive
        self.adaptiveMin = adaptiveMin
        self.adaptiveInitial = adaptiveInitial
    }
}
