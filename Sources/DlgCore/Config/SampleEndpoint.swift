import Foundation

/// `dlg-run --dry-run`'s sample run: every agent's endpoints pointed at the mock the dry run started
/// in its own process, named by `DLG_DRY_RUN_URL` in the environment of that run (set by `DryRun`, not
/// by users). Applied after the agents are resolved, so no base URL, provider, routing list or
/// `LLM_*` variable can send a request of the sample elsewhere; no key is sent (the mock needs none),
/// and only a loopback URL is taken, so the variable can never carry a request off this machine.
enum SampleEndpoint {
    static let variable = "DLG_DRY_RUN_URL"

    /// The mock's URL when this is a dry run's sample (nil otherwise); a URL that is not loopback http
    /// is refused (exit 78).
    static func url(_ environment: [String: String]) throws(DlgError) -> String? {
        guard let url = environment[variable], !url.isEmpty else { return nil }
        guard let peer = PeerURL(url), peer.scheme == "http", peer.isLoopback else {
            throw DlgError.config("environment variable \(variable): expected an http URL on this machine (the dry run's mock)")
        }
        return url
    }

    /// `agents` with every endpoint at `url` and no key; an agent with none gets one, and what made an
    /// agent unusable (a missing key, a provider without a URL) no longer holds.
    static func redirect(_ agents: [AgentName: AgentSettings], to url: String, backend: String) -> [AgentName: AgentSettings] {
        agents.mapValues { settings in
            var s = settings
            if s.endpoints.isEmpty {
                s.endpoints = [Endpoint(name: "dry-run-mock", baseURL: url, apiKey: "EMPTY", weight: 1, maxInFlight: 0,
                                        timeout: nil, model: "", routed: backend == "vllm_attach")]
            }
            s.endpoints = s.endpoints.map { e in
                var e = e
                e.baseURL = url
                e.apiKey = "EMPTY"
                e.rateLimit = LLMLayerSettings.RateLimit()
                return e
            }
            s.unusable = nil
            s.keyNotes = []
            return s
        }
    }
}
