import Foundation

/// The `web_search` tool of kb_responder, as upstream: `tools.web_search_enabled`,
/// `tools.serper_num_results`, `tools.serper_timeout`, the key from `SERPER_API_KEY`; and ours,
/// `tools.serper_url` (default Serper's), for any service that takes the same request.
public struct WebSearchSettings: Sendable {
    public static let defaultURL = "https://google.serper.dev/search"
    public var enabled = false
    public var numResults = 5
    public var timeout = 30.0
    public var url = WebSearchSettings.defaultURL
    /// Never printed or logged.
    public var apiKey = ""
    public init() {}

    /// Enabled and with a key: the tool is offered.
    public var usable: Bool { enabled && !apiKey.isEmpty }

    static func read(_ r: ConfigReader) throws(DlgError) -> WebSearchSettings {
        var s = WebSearchSettings()
        s.enabled = try r.bool("tools.web_search_enabled")
        s.numResults = try r.int("tools.serper_num_results", min: 1, max: 100)
        s.timeout = try r.double("tools.serper_timeout", min: 0.1)
        if let v = r.tree.value(at: "tools.serper_url"), !v.isNull {
            let url = try r.string("tools.serper_url")
            guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                throw r.fail("tools.serper_url", v, "an http:// or https:// URL")
            }
            s.url = url
        }
        s.apiKey = r.tree.environment["SERPER_API_KEY"] ?? ""
        Redact.register(s.apiKey)
        return s
    }
}
