import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The limits broker's wire: one text line per message, its fields separated by single spaces (`-` for
/// none), a base URL's spaces as `%20`, an endpoint's name last (a newline in it as a space).
///
///   stage → broker  `A cid tokens max_in_flight rpm tpm adaptive min initial base_url name`  (ask)
///                   `R cid end elapsed tokens retry_after rem_req reset_req rem_tok reset_tok`  (release)
///                   `O end elapsed tokens retry_after rem_req reset_req rem_tok reset_tok base_url name`
///                     (a request granted by the stage itself ended)
///                   `X cid`  (cancel a request still waiting)
///                   `K json tools seed base_url`  (an endpoint refused a parameter)
///   broker → stage  `G cid limit json tools seed`  (granted; json -1 when nothing is known)
///                   `N cid`  (cancelled)
///                   `P seconds key`  (an endpoint paused: its requests ask the broker until then)
///                   `C json tools seed base_url`  (an endpoint refused a parameter, found by any stage)
///
/// `LimitBroker` (LimitBrokerServer.swift) serves it, `LimitBrokerClient` speaks it for a stage.
enum LimitWire {
    // MARK: Fields

    static func field(_ v: Int?) -> String { v.map(String.init) ?? "-" }
    /// Swift's shortest exact form, which `Double(_:)` reads back (String(format:) cost 3% of a stage's CPU).
    static func field(_ v: Double?) -> String { v.map { "\($0)" } ?? "-" }

    /// A base URL as one field.
    static func urlField(_ baseURL: String) -> String { baseURL.replacingOccurrences(of: " ", with: "%20") }

    /// An endpoint's name as the last field: a newline would end the line.
    static func nameField(_ name: String) -> String { name.replacingOccurrences(of: "\n", with: " ") }

    /// What an endpoint accepts, from the three fields `json tools seed`.
    static func capabilities(json: Substring, tools: Substring, seed: Substring) -> EndpointCapabilities.Snapshot? {
        guard let raw = Int(json), let mode = EndpointCapabilities.JSONMode(rawValue: raw) else { return nil }
        return EndpointCapabilities.Snapshot(json: mode, tools: tools == "1", seed: seed == "1")
    }

    // MARK: Stage → broker

    /// An ask's fields after `A cid`.
    static func askFields(_ spec: EndpointLimitSpec, tokens: Int) -> String {
        "\(tokens) \(spec.maxInFlight) \(field(spec.rateLimit.requestsPerMinute)) \(field(spec.rateLimit.tokensPerMinute)) \(spec.adaptive ? 1 : 0) \(spec.adaptiveMin) \(spec.adaptiveInitial) \(urlField(spec.baseURL)) \(nameField(spec.name))"
    }

    /// An ask's limits, from its eleven fields `A cid tokens max_in_flight rpm tpm adaptive min initial base_url name`.
    static func ask(_ f: [Substring]) -> (cid: UInt64, tokens: Int, spec: EndpointLimitSpec)? {
        guard let cid = UInt64(f[1]), let tokens = Int(f[2]), let mif = Int(f[3]) else { return nil }
        let spec = EndpointLimitSpec(
            name: String(f[10]), baseURL: String(f[9]), maxInFlight: mif,
            rateLimit: LLMLayerSettings.RateLimit(requestsPerMinute: Int(f[4]), tokensPerMinute: Int(f[5])),
            adaptive: f[6] == "1", adaptiveMin: Int(f[7]) ?? 1, adaptiveInitial: Int(f[8]) ?? 8)
        return (cid, tokens, spec)
    }

    /// The eight fields `end elapsed tokens retry_after rem_req reset_req rem_tok reset_tok` of a request's end.
    static func outcomeFields(_ o: LeaseOutcome) -> String {
        "\(o.end.rawValue) \(field(o.elapsed)) \(field(o.tokens)) \(field(o.retryAfter)) \(field(o.server.remainingRequests)) \(field(o.server.resetRequests)) \(field(o.server.remainingTokens)) \(field(o.server.resetTokens))"
    }

    /// How a request ended, from the eight fields `end elapsed tokens retry_after rem_req reset_req rem_tok reset_tok`.
    static func outcome(_ f: ArraySlice<Substring>) -> LeaseOutcome {
        let i = f.startIndex
        var outcome = LeaseOutcome(end: LeaseEnd(rawValue: String(f[i])) ?? .failed)
        outcome.elapsed = Double(f[i + 1]) ?? 0
        outcome.tokens = Int(f[i + 2])
        outcome.retryAfter = Double(f[i + 3])
        outcome.server.remainingRequests = Int(f[i + 4])
        outcome.server.resetRequests = Double(f[i + 5])
        outcome.server.remainingTokens = Int(f[i + 6])
        outcome.server.resetTokens = Double(f[i + 7])
        return outcome
    }

    /// `R` for a lease the broker granted, `O` for one the stage granted itself.
    static func releaseLine(_ lease: LeaseGrant, _ o: LeaseOutcome) -> String {
        let outcome = outcomeFields(o)
        return lease.local
            ? "O \(outcome) \(urlField(lease.baseURL)) \(nameField(lease.name))"
            : "R \(lease.id) \(outcome)"
    }

    static func learnedLine(_ baseURL: String, _ s: EndpointCapabilities.Snapshot) -> String {
        "K \(s.json.rawValue) \(s.tools ? 1 : 0) \(s.seed ? 1 : 0) \(urlField(baseURL))"
    }

    // MARK: Broker → stage

    /// A grant; `json tools seed` are `-1 1 1` when nothing is known of the endpoint.
    static func grantLine(_ cid: UInt64, _ grant: LeaseGrant) -> String {
        let c = grant.capabilities
        return "G \(cid) \(grant.limit) \(c.map { $0.json.rawValue } ?? -1) \(c.map { $0.tools ? 1 : 0 } ?? 1) \(c.map { $0.seed ? 1 : 0 } ?? 1)"
    }

    static func pauseLine(_ key: String, _ seconds: Double) -> String { "P \(seconds) \(key)" }

    static func capabilityLine(_ baseURL: String, _ c: EndpointCapabilities.Snapshot) -> String {
        "C \(c.json.rawValue) \(c.tools ? 1 : 0) \(c.seed ? 1 : 0) \(urlField(baseURL))"
    }

    // MARK: The socket

    /// Calls `body` with a `sockaddr_un` for `path`; -1 (ENAMETOOLONG) when it does not fit.
    static func withAddress(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { errno = ENAMETOOLONG; return -1 }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// Writes one line whole (the caller holds the connection's lock); a closed peer is ignored: the
    /// reader sees it.
    static func write(_ fd: Int32, _ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }
}

/// The broker's lines from a socket, until it closes. Not Support's `LineReader`: that one hands back
/// bytes, returns an unterminated last line and throws on a failed read; here a line is whole or not at
/// all, and a failed read is the connection's end.
struct BrokerLineReader {
    let fd: Int32
    var buffer: [UInt8] = []
    var start = 0
    var chunk = [UInt8](repeating: 0, count: 16384)

    init(fd: Int32) { self.fd = fd }

    mutating func next() -> Substring? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[start..<nl], as: UTF8.self)
                start = nl + 1
                if start == buffer.count { buffer.removeAll(keepingCapacity: true); start = 0 }
                return Substring(line)
            }
            if start > 0 { buffer.removeFirst(start); start = 0 }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }
}
