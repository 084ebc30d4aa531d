import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The run's limits, shared by its four stage processes: dlg-run hosts one `LimitBroker` on a Unix
/// socket in the run's folder and passes its path to the stages (`DLGFORGE_LIMITS_SOCKET`); each
/// stage's `LLMClient` then asks it for a lease before every request and hands it back after, so
/// `max_in_flight`, the rate limits, the adaptive limit and what an endpoint refuses hold for the
/// whole run. A stage that goes away gives back its leases with its connection.
///
/// A request to an endpoint with no limit to hold (no `max_in_flight`, no rate limit, no adaptive limit,
/// no global rate limit) needs no leave: the stage grants it itself unless the broker told it the
/// endpoint is paused, and reports its end only when the server spoke of its load (a 429 or 503,
/// `x-ratelimit-*`), which may pause the endpoint for the run; an ordinary reply costs no message (the
/// round trip cost about a tenth of a stage's CPU at 256 requests in flight).
///
/// The wire is one text line per message (`-` for none):
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
public final class LimitBroker: @unchecked Sendable {
    public let path: String
    let scheduler: LimitScheduler
    private let listenFD: Int32
    private let lock = NSLock()
    private var stopped = false
    private var peers: [Int32: Peer] = [:]

    /// Listens on `path` (a stale socket file there is replaced). `shards` > 1: this run is one shard
    /// of a distributed run and holds its share (1 / shards) of every limit.
    public init(path: String, layer: LLMLayerSettings, shards: Int = 1, logsDir: String?) throws(DlgError) {
        self.path = path
        scheduler = LimitScheduler(global: layer.rateLimit, scale: 1 / Double(max(1, shards)))
        if let logsDir {
            let log = DlgLog.logger("dlg.llm", logsDir: logsDir, file: "llm.log")
            scheduler.onEvent = { log.info("\($0)") }
        }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DlgError.io("\(path): cannot create the limits socket: \(String(cString: strerror(errno)))") }
        guard LimitWire.withAddress(path, { bind(fd, $0, $1) }) == 0, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DlgError.io("\(path): cannot listen for the stages' limit leases: \(reason)")
        }
        listenFD = fd
        scheduler.onPause = { [weak self] key, seconds in self?.broadcast("P \(seconds) \(key)") }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "dlg-limits"
        thread.start()
    }

    /// One line to every stage connected.
    private func broadcast(_ line: String) {
        for peer in lock.withLock({ Array(peers.values) }) {
            peer.lock.withLock { if !peer.dead { LimitWire.write(peer.fd, line) } }
        }
    }

    /// Where each endpoint's limits stand.
    public func states() -> [EndpointLimitState] { scheduler.states() }

    /// Stops listening and removes the socket file; the stages have exited by then.
    public func stop() {
        let first: Bool = lock.withLock {
            if stopped { return false }
            stopped = true
            // Under the lock: a connection's thread leaves the list before it closes its descriptor.
            for fd in peers.keys { shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
        unlink(path)
    }

    /// A socket path for a run folder: inside it when short enough for `sockaddr_un`, else in /tmp.
    public static func socketPath(runDir: String) -> String {
        let inside = (runDir as NSString).appendingPathComponent("limits.sock")
        if inside.utf8.count < 100 { return inside }
        return (NSTemporaryDirectory() as NSString).appendingPathComponent("dlgforge-limits-\(getpid()).sock")
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let peer = Peer(fd: fd)
            let keep = lock.withLock { () -> Bool in
                if stopped { return false }
                peers[fd] = peer
                return true
            }
            guard keep else { close(fd); return }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            // What the run already knows, for a stage that grants its own requests.
            peer.lock.withLock {
                for (baseURL, c) in scheduler.knownCapabilities() { LimitWire.write(fd, Self.capabilityLine(baseURL, c)) }
                for (key, seconds) in scheduler.pauses() { LimitWire.write(fd, "P \(seconds) \(key)") }
            }
            let thread = Thread { [self] in serve(peer) }
            thread.name = "dlg-limits-conn"
            thread.start()
        }
    }

    /// One stage's connection: its leases by its own ids.
    private final class Peer: @unchecked Sendable {
        let fd: Int32
        let lock = NSLock()
        /// The stage's id → the scheduler's, for requests waiting or granted.
        var ids: [UInt64: UInt64] = [:]
        var granted: Set<UInt64> = []
        /// The connection closed: a grant that comes now is given back.
        var dead = false
        init(fd: Int32) { self.fd = fd }
    }

    static func capabilityLine(_ baseURL: String, _ c: EndpointCapabilities.Snapshot) -> String {
        "C \(c.json.rawValue) \(c.tools ? 1 : 0) \(c.seed ? 1 : 0) \(baseURL.replacingOccurrences(of: " ", with: "%20"))"
    }

    private func serve(_ peer: Peer) {
        let fd = peer.fd
        var reader = LimitWire.LineReader(fd: fd)
        while let line = reader.next() {
            handle(line, peer)
        }
        // The stage is gone: what it waited for is cancelled, what it held is given back.
        let (waiting, held): ([UInt64], [UInt64]) = peer.lock.withLock {
            peer.dead = true
            let held = peer.granted.compactMap { peer.ids[$0] }
            let waiting = peer.ids.filter { !peer.granted.contains($0.key) }.map(\.value)
            peer.ids.removeAll()
            peer.granted.removeAll()
            return (waiting, held)
        }
        for id in waiting { scheduler.cancel(id) }
        for id in held { scheduler.release(id, LeaseOutcome(end: .failed)) }
        lock.withLock { peers[fd] = nil }
        close(fd)
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

    private func handle(_ line: Substring, _ peer: Peer) {
        let f = line.split(separator: " ", maxSplits: 10, omittingEmptySubsequences: false)
        guard let kind = f.first else { return }
        switch kind {
        case "A" where f.count == 11:
            guard let cid = UInt64(f[1]), let tokens = Int(f[2]), let mif = Int(f[3]) else { return }
            let spec = EndpointLimitSpec(
                name: String(f[10]), baseURL: String(f[9]), maxInFlight: mif,
                rateLimit: LLMLayerSettings.RateLimit(requestsPerMinute: Int(f[4]), tokensPerMinute: Int(f[5])),
                adaptive: f[6] == "1", adaptiveMin: Int(f[7]) ?? 1, adaptiveInitial: Int(f[8]) ?? 8)
            // The grant may come before `acquire` returns (on this thread or a timer's): it needs only the
            // stage's id; releases and cancels come later on this thread and find the scheduler's id.
            let scheduler = self.scheduler
            let sid = scheduler.acquire(spec, tokens: tokens) { [peer] grant in
                let orphan: UInt64? = peer.lock.withLock {
                    guard let grant else {
                        peer.ids[cid] = nil
                        LimitWire.write(peer.fd, "N \(cid)")
                        return nil
                    }
                    if peer.dead { return grant.id }
                    peer.granted.insert(cid)
                    let c = grant.capabilities
                    LimitWire.write(peer.fd, "G \(cid) \(grant.limit) \(c.map { $0.json.rawValue } ?? -1) \(c.map { $0.tools ? 1 : 0 } ?? 1) \(c.map { $0.seed ? 1 : 0 } ?? 1)")
                    return nil
                }
                // Granted after the stage went away: given back at once.
                if let orphan { DispatchQueue.global().async { scheduler.release(orphan, LeaseOutcome(end: .failed)) } }
            }
            peer.lock.withLock { peer.ids[cid] = sid }
        case "R" where f.count == 10:
            guard let cid = UInt64(f[1]) else { return }
            let sid: UInt64? = peer.lock.withLock {
                peer.granted.remove(cid)
                return peer.ids.removeValue(forKey: cid)
            }
            guard let sid else { return }
            scheduler.release(sid, Self.outcome(f[2...9]))
        case "O" where f.count == 11:
            let outcome = Self.outcome(f[1...8])
            let spec = EndpointLimitSpec(name: String(f[10]), baseURL: String(f[9]), maxInFlight: 0, rateLimit: .init(),
                                         adaptive: false, adaptiveMin: 1, adaptiveInitial: 8)
            scheduler.report(spec, outcome)
        case "X" where f.count == 2:
            guard let cid = UInt64(f[1]) else { return }
            let sid: UInt64? = peer.lock.withLock { peer.granted.contains(cid) ? nil : peer.ids[cid] }
            if let sid { scheduler.cancel(sid) }
        case "K" where f.count == 5:
            guard let raw = Int(f[1]), let json = EndpointCapabilities.JSONMode(rawValue: raw) else { return }
            let learned = EndpointCapabilities.Snapshot(json: json, tools: f[2] == "1", seed: f[3] == "1")
            scheduler.learn(String(f[4]), learned)
            broadcast(Self.capabilityLine(String(f[4]), learned))
        default:
            return
        }
    }
}

/// A stage's side of the broker: one connection, a reader thread that hands each grant to the request
/// waiting for it.
final class LimitBrokerClient: LimitGate, @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var nextID: UInt64 = 1
    private var pending: [UInt64: CheckedContinuation<LeaseGrant?, Never>] = [:]
    private var closed = false
    private let capabilities: EndpointCapabilities
    /// A global rate limit is set: every request asks the broker.
    private let globalLimits: Bool
    /// Endpoints (`EndpointLimitSpec.key`) the broker said are paused, until when (`LimitScheduler.now`).
    private var pausedUntil: [String: Double] = [:]
    private var nextLocalID: UInt64 = 1

    /// Connects to the broker at `path`; `capabilities` learns what the run knows with every grant.
    /// `globalLimits`: `llm.rate_limit` is set (every request then asks the broker).
    init(path: String, capabilities: EndpointCapabilities, globalLimits: Bool = false) throws(DlgError) {
        self.capabilities = capabilities
        self.globalLimits = globalLimits
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DlgError.io("cannot create a socket for the run's limits: \(String(cString: strerror(errno)))") }
        guard LimitWire.withAddress(path, { connect(fd, $0, $1) }) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw DlgError.unavailable("\(path): cannot reach the run's limits broker: \(reason)")
        }
        self.fd = fd
        let thread = Thread { [self] in readLoop() }
        thread.name = "dlg-limits-client"
        thread.start()
    }

    static func field(_ v: Int?) -> String { v.map(String.init) ?? "-" }
    /// Swift's shortest exact form, which `Double(_:)` reads back (String(format:) cost 3% of a stage's CPU).
    static func field(_ v: Double?) -> String { v.map { "\($0)" } ?? "-" }

    /// Nothing for the broker to hold for this endpoint: no limit of its own, no global one, no adaptive limit.
    func needsNoLeave(_ spec: EndpointLimitSpec) -> Bool {
        !globalLimits && spec.maxInFlight <= 0 && spec.rateLimit.requestsPerMinute == nil
            && spec.rateLimit.tokensPerMinute == nil && !spec.adaptive
    }

    /// Pauses the broker has told of so far (tests: heard, whether or not over since).
    var pausesHeard: Int { lock.withLock { heard } }
    private var heard = 0

    func acquire(_ spec: EndpointLimitSpec, tokens: Int) async -> LeaseGrant? {
        if needsNoLeave(spec) {
            let local: LeaseGrant? = lock.withLock {
                if closed || (pausedUntil[spec.key] ?? 0) > LimitScheduler.now() { return nil }
                defer { nextLocalID += 1 }
                return LeaseGrant(id: nextLocalID, limit: 0, capabilities: nil, local: true, name: spec.name, baseURL: spec.baseURL)
            }
            // Paused (the broker then holds it until the pause ends), or the broker is gone (asking it says so).
            if let local { return local }
        }
        let name = spec.name.replacingOccurrences(of: "\n", with: " ")
        let rest = "\(tokens) \(spec.maxInFlight) \(Self.field(spec.rateLimit.requestsPerMinute)) \(Self.field(spec.rateLimit.tokensPerMinute)) \(spec.adaptive ? 1 : 0) \(spec.adaptiveMin) \(spec.adaptiveInitial) \(spec.baseURL.replacingOccurrences(of: " ", with: "%20")) \(name)"
        let box = CancelBox()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<LeaseGrant?, Never>) in
                let id: UInt64? = lock.withLock {
                    if closed { return nil }
                    let id = nextID
                    nextID += 1
                    pending[id] = c
                    // Written under the lock: the ids reach the broker in order and the reply finds its entry.
                    LimitWire.write(fd, "A \(id) " + rest)
                    return id
                }
                guard let id else { c.resume(returning: nil); return }
                if box.set(id) { lock.withLock { LimitWire.write(fd, "X \(id)") } }
            }
        } onCancel: {
            if let id = box.cancel() { lock.withLock { if !closed { LimitWire.write(fd, "X \(id)") } } }
        }
    }

    func release(_ lease: LeaseGrant, _ o: LeaseOutcome) {
        // Nothing to report of a request granted here that ended without a word from the server on its
        // load: the usual case, checked before any text is built (that was 2% of a stage's CPU).
        if lease.local && o.end != .overloaded && o.server.isEmpty { return }
        let outcome = "\(o.end.rawValue) \(Self.field(o.elapsed)) \(Self.field(o.tokens)) \(Self.field(o.retryAfter)) \(Self.field(o.server.remainingRequests)) \(Self.field(o.server.resetRequests)) \(Self.field(o.server.remainingTokens)) \(Self.field(o.server.resetTokens))"
        let line = lease.local
            ? "O \(outcome) \(lease.baseURL.replacingOccurrences(of: " ", with: "%20")) \(lease.name.replacingOccurrences(of: "\n", with: " "))"
            : "R \(lease.id) \(outcome)"
        lock.withLock { if !closed { LimitWire.write(fd, line) } }
    }

    func learned(_ baseURL: String, _ s: EndpointCapabilities.Snapshot) {
        let line = "K \(s.json.rawValue) \(s.tools ? 1 : 0) \(s.seed ? 1 : 0) \(baseURL.replacingOccurrences(of: " ", with: "%20"))"
        lock.withLock { if !closed { LimitWire.write(fd, line) } }
    }

    /// Closes the connection: the broker gives back this client's leases, and a request still waiting
    /// gets none.
    func disconnect() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// The broker holds the run's view; a stage shows none of its own.
    func states() -> [EndpointLimitState] { [] }

    private func readLoop() {
        var reader = LimitWire.LineReader(fd: fd)
        while let line = reader.next() {
            if line.hasPrefix("P ") {
                let f = line.split(separator: " ", maxSplits: 2)
                if f.count == 3, let seconds = Double(f[1]) {
                    let until = LimitScheduler.now() + seconds
                    lock.withLock {
                        pausedUntil[String(f[2])] = max(pausedUntil[String(f[2])] ?? 0, until)
                        heard += 1
                    }
                }
                continue
            }
            if line.hasPrefix("C ") {
                let f = line.split(separator: " ")
                if f.count == 5, let raw = Int(f[1]), let json = EndpointCapabilities.JSONMode(rawValue: raw) {
                    capabilities.merge(f[4].replacingOccurrences(of: "%20", with: " "),
                                       EndpointCapabilities.Snapshot(json: json, tools: f[2] == "1", seed: f[3] == "1"))
                }
                continue
            }
            let f = line.split(separator: " ")
            guard f.count >= 2, let id = UInt64(f[1]) else { continue }
            let c = lock.withLock { pending.removeValue(forKey: id) }
            guard let c else { continue }
            if f[0] == "G", f.count == 6 {
                var caps: EndpointCapabilities.Snapshot?
                if let raw = Int(f[3]), let json = EndpointCapabilities.JSONMode(rawValue: raw) {
                    caps = EndpointCapabilities.Snapshot(json: json, tools: f[4] == "1", seed: f[5] == "1")
                }
                c.resume(returning: LeaseGrant(id: id, limit: Int(f[2]) ?? 0, capabilities: caps))
            } else {
                c.resume(returning: nil)
            }
        }
        let waiting: [CheckedContinuation<LeaseGrant?, Never>] = lock.withLock {
            closed = true
            let w = Array(pending.values)
            pending.removeAll()
            return w
        }
        for c in waiting { c.resume(returning: nil) }
        close(fd)
    }
}

/// The socket plumbing both sides share.
enum LimitWire {
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

    /// Lines from a socket, until it closes.
    struct LineReader {
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
}
