import Foundation

/// The sentence-embedding server the semantic-dedup tests use (scripts/embed_server.py, the real
/// all-MiniLM-L6-v2), named by `DLG_EMBED_URL`. `scripts/services/embed.sh up` (run by `make test`)
/// starts one and prints it; a test that needs it fails with `howTo` when it is not set.
public enum EmbedTestServer {
    public static let url: String? = {
        let v = ProcessInfo.processInfo.environment["DLG_EMBED_URL"] ?? ""
        return v.isEmpty ? nil : v
    }()
    /// The model the server serves (any name is accepted; this one says what it is).
    public static let model = "all-MiniLM-L6-v2"
    public static let howTo = "DLG_EMBED_URL is not set: run `eval \"$(scripts/services/embed.sh up)\"` first (or make test)"

    /// The server's base URL, or a failure that says how to start it.
    public static func require() throws -> String {
        guard let url else { throw HarnessError(howTo) }
        return url
    }
}
