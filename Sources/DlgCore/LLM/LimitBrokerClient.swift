import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A stage's side of the broker (`LimitBroker`): one connection, a reader thread that hands each grant
/// to the request waiting for it. The wire is `LimitWire` (LimitBrokerProtocol.swift).
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
        let rest = LimitWire.askFields(spec, tokens: tokens)
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
        let line = LimitWire.releaseLine(lease, o)
        lock.withLock { if !closed { LimitWire.write(fd, line) } }
    }

    func learned(_ baseURL: String, _ s: EndpointCapabilities.Snapshot) {
        let line = LimitWire.learnedLine(baseURL, s)
        lock.withLock { if !closed { LimitWire.write(fd, line) } }
    }

    /// Closes the connection: the broker gives back this client's leases, and a request still waiting
    /// gets none.
    func disconnect() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// The broker holds the run's view; a stage shows none of its own.
    func states() -> [EndpointLimitState] { [] }

    private func readLoop() {
        var reader = BrokerLineReader(fd: fd)
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
                if f.count == 5, let learned = LimitWire.capabilities(json: f[1], tools: f[2], seed: f[3]) {
                    capabilities.merge(f[4].replacingOccurrences(of: "%20", with: " "), learned)
                }
                continue
            }
            let f = line.split(separator: " ")
            guard f.count >= 2, let id = UInt64(f[1]) else { continue }
            let c = lock.withLock { pending.removeValue(forKey: id) }
            guard let c else { continue }
            if f[0] == "G", f.count == 6 {
                let caps = LimitWire.capabilities(json: f[3], tools: f[4], seed: f[5])
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
