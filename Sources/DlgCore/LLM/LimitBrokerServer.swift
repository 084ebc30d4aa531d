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
/// The wire is `LimitWire` (LimitBrokerProtocol.swift); the stage's side is `LimitBrokerClient`.
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
            let log = DlgLog.logger("dlg.llm", logsDir: logsDir, file: RunLayout.llmLog)
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
        scheduler.onPause = { [weak self] key, seconds in self?.broadcast(LimitWire.pauseLine(key, seconds)) }
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
        let inside = (runDir as NSString).appendingPathComponent(RunLayout.limitsSocket)
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
                for (baseURL, c) in scheduler.knownCapabilities() { LimitWire.write(fd, LimitWire.capabilityLine(baseURL, c)) }
                for (key, seconds) in scheduler.pauses() { LimitWire.write(fd, LimitWire.pauseLine(key, seconds)) }
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

    private func serve(_ peer: Peer) {
        let fd = peer.fd
        var reader = BrokerLineReader(fd: fd)
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

    private func handle(_ line: Substring, _ peer: Peer) {
        let f = line.split(separator: " ", maxSplits: 10, omittingEmptySubsequences: false)
        guard let kind = f.first else { return }
        switch kind {
        case "A" where f.count == 11:
            guard let ask = LimitWire.ask(f) else { return }
            let cid = ask.cid
            // The grant may come before `acquire` returns (on this thread or a timer's): it needs only the
            // stage's id; releases and cancels come later on this thread and find the scheduler's id.
            let scheduler = self.scheduler
            let sid = scheduler.acquire(ask.spec, tokens: ask.tokens) { [peer] grant in
                let orphan: UInt64? = peer.lock.withLock {
                    guard let grant else {
                        peer.ids[cid] = nil
                        LimitWire.write(peer.fd, "N \(cid)")
                        return nil
                    }
                    if peer.dead { return grant.id }
                    peer.granted.insert(cid)
                    LimitWire.write(peer.fd, LimitWire.grantLine(cid, grant))
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
            scheduler.release(sid, LimitWire.outcome(f[2...9]))
        case "O" where f.count == 11:
            let outcome = LimitWire.outcome(f[1...8])
            let spec = EndpointLimitSpec(name: String(f[10]), baseURL: String(f[9]), maxInFlight: 0, rateLimit: .init(),
                                         adaptive: false, adaptiveMin: 1, adaptiveInitial: 8)
            scheduler.report(spec, outcome)
        case "X" where f.count == 2:
            guard let cid = UInt64(f[1]) else { return }
            let sid: UInt64? = peer.lock.withLock { peer.granted.contains(cid) ? nil : peer.ids[cid] }
            if let sid { scheduler.cancel(sid) }
        case "K" where f.count == 5:
            guard let learned = LimitWire.capabilities(json: f[1], tools: f[2], seed: f[3]) else { return }
            scheduler.learn(String(f[4]), learned)
            broadcast(LimitWire.capabilityLine(String(f[4]), learned))
        default:
            return
        }
    }
}
