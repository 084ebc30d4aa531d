/// What the Hub upload sends where. The token goes to the configured Hub's origin only, over https
/// (http only on this machine, as the tests' stand-in): a reply of the Hub that names another host for a
/// call carrying the token (the LFS verification), or another scheme (`file://`), is refused. And no file
/// holding a secret the tools were given is uploaded.
enum HubPeers {
    /// Throws unless `url` is on the Hub's own origin (and that origin is https or loopback).
    static func checkTokenTarget(_ url: String, endpoint: String) throws(DlgError) {
        guard let hub = PeerURL(endpoint) else {
            throw DlgError.config("the Hub's address \(shown(endpoint)) is not an http(s) URL")
        }
        guard let target = PeerURL(url) else {
            throw DlgError(.data, "the Hub named \(shown(url)) for a call that carries the token, which is not an http(s) URL; refused")
        }
        guard target.sameOrigin(hub) else {
            throw DlgError(.data, "the Hub named \(target.origin) for a call that carries the token, which is not the Hub (\(hub.origin)); refused")
        }
        guard target.isHTTPS || target.isLoopback else {
            throw DlgError.config("the token would go over plain http to \(target.origin); the Hub must be https (http only on this machine)")
        }
    }

    /// A URL for a message: its scheme and host, not its path or query (which may carry a signature).
    static func shown(_ url: String) -> String {
        if let p = PeerURL(url) { return p.origin }
        let scheme = url.prefix { $0 != ":" }
        return scheme.count < 16 ? "a \(scheme): URL" : "an unreadable URL"
    }

    /// Exit 65 naming the first file (relative to the folder) in which a known secret appears.
    static func refuseSecrets(_ contents: [String: [UInt8]], folder: String) throws(DlgError) {
        for path in contents.keys.sorted() where Redact.containsSecret(contents[path]!) {
            throw DlgError(.data, "\(folder)/\(path) holds a secret this run was given (an API key, token or password); nothing was uploaded. Remove it from the file (or the records it was built from) and export again")
        }
    }
}
