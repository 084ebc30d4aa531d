/// The parts of an http(s) URL that decide what may be sent there: its scheme, host and port, and
/// whether the host is this machine or a private network. Hosts are compared as written (no DNS):
/// `localhost` counts as loopback, other names as public.
public struct PeerURL: Sendable, Equatable {
    public var scheme: String
    public var host: String
    public var port: Int?
    /// Everything after the authority (`/v1/chat`), empty when none.
    public var path: String

    /// Nil when `url` is not `http://` or `https://` with a host.
    public init?(_ url: String) {
        guard let r = url.range(of: "://") else { return nil }
        let scheme = url[..<r.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = url[r.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host = Substring(authority)
        var port: Int? = nil
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if after.hasPrefix(":") { port = Int(after.dropFirst()); if port == nil { return nil } }
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]) else { return nil }
            port = p
            host = host[..<colon]
        }
        guard !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        path = String(rest[authorityEnd...])
        if path == "/" { path = "" }
    }

    public var isHTTPS: Bool { scheme == "https" }
    /// The port, with the scheme's default.
    public var effectivePort: Int { port ?? (isHTTPS ? 443 : 80) }
    /// Same scheme, host and port.
    public func sameOrigin(_ other: PeerURL) -> Bool {
        scheme == other.scheme && host == other.host && effectivePort == other.effectivePort
    }

    /// 127.0.0.0/8, ::1, localhost.
    public var isLoopback: Bool {
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" { return true }
        return Self.ipv4(host).map { $0[0] == 127 } ?? false
    }

    /// Loopback, 10/8, 172.16/12, 192.168/16, 169.254/16 (link-local), fc00::/7, fe80::/10.
    public var isPrivate: Bool {
        if isLoopback { return true }
        if let a = Self.ipv4(host) {
            return a[0] == 10 || (a[0] == 172 && (16...31).contains(a[1])) || (a[0] == 192 && a[1] == 168)
                || (a[0] == 169 && a[1] == 254)
        }
        guard host.contains(":"), let first = host.split(separator: ":").first, let word = UInt16(first, radix: 16) else { return false }
        return word & 0xFE00 == 0xFC00 || word & 0xFFC0 == 0xFE80
    }

    /// `scheme://host[:port]`, for messages (no user information, no path).
    public var origin: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(h)" + (port.map { ":\($0)" } ?? "")
    }

    static func ipv4(_ host: String) -> [Int]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [Int] = []
        for p in parts {
            guard let n = Int(p), (0...255).contains(n), p.allSatisfy(\.isASCII) else { return nil }
            out.append(n)
        }
        return out
    }
}
