import CCurl
import Foundation

/// The tools' one HTTP client (the LLM client, the Hub upload, the web search): HTTP over libcurl's
/// multi_socket interface on epoll, driven by one event thread: hundreds of requests in flight with
/// connection reuse, each socket event handled without a pass over every transfer. (URLSession on Linux also runs on libcurl but spins a CPU while it waits; see
/// docs/decisions.md.)
public final class CurlTransport: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var retryAfter: Double?
        /// The server's `x-ratelimit-*` headers, names lowercased.
        public var rateLimit: [String: String] = [:]
    }

    public enum Outcome: Sendable {
        case response(Response)
        /// The transfer failed before a response: connection refused, reset, timed out.
        case failed(message: String, timedOut: Bool)
        /// The reply grew past `maxResponseBytes`: the transfer was stopped there. `buffered` is what
        /// was held when it stopped (never more than the cap).
        case tooLarge(limit: Int, buffered: Int)
    }

    /// The cap on a reply when the caller names none (also `llm.max_response_bytes`'s default).
    public static let defaultMaxResponseBytes = 16 << 20

    final class Transfer {
        let easy: UnsafeMutableRawPointer
        var body: [UInt8] = []
        /// The most `body` may hold; past it the write callback stops the transfer.
        var limit = CurlTransport.defaultMaxResponseBytes
        var tooLarge = false
        var retryAfter: Double?
        var rateLimit: [String: String] = [:]
        var headers: UnsafeMutablePointer<curl_slist>?
        var postData: UnsafeMutablePointer<UInt8>?
        var continuation: CheckedContinuation<Outcome, Never>?

        init(easy: UnsafeMutableRawPointer) { self.easy = easy }
        deinit {
            curl_slist_free_all(headers)
            postData?.deallocate()
            curl_easy_cleanup(easy)
        }
    }

    private let multi: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var pending: [Transfer] = []
    /// The epoll set and libcurl's timer, shared with the C callbacks; touched by the event thread only.
    private let events: UnsafeMutablePointer<dlg_curl_events>
    /// Written by `perform` to wake the event thread for new transfers; it is in the epoll set.
    private let wakeFD: Int32

    public static let shared = CurlTransport()

    public init() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        multi = curl_multi_init()
        _ = dlg_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 2048)
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        // Without them no request could ever complete: stop loudly rather than hang.
        guard epollFD >= 0, wakeFD >= 0 else {
            fatalError("the HTTP event thread cannot create its event descriptors: \(String(cString: strerror(errno)))")
        }
        events = .allocate(capacity: 1)
        events.initialize(to: dlg_curl_events(epoll_fd: epollFD, timer_ms: -1, timer_changed: 0))
        _ = dlg_epoll_watch(events.pointee.epoll_fd, wakeFD, EPOLLIN.rawValue)
        _ = dlg_curl_multi_use_epoll(multi, events)
        let thread = Thread { [self] in self.loop() }
        thread.name = "dlg-http"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Performs one request. `headers` are full header lines (`Name: value`). Only http and https are
    /// spoken; a reply bigger than `maxResponseBytes` ends as `.tooLarge`, with at most that much held.
    public func perform(url: String, method: String, headers: [String], body: consuming [UInt8]?,
                        timeout: Double, maxResponseBytes: Int = CurlTransport.defaultMaxResponseBytes) async -> Outcome {
        guard let easy = curl_easy_init() else { return .failed(message: "cannot create a transfer", timedOut: false) }
        let t = Transfer(easy: easy)
        t.limit = max(1, maxResponseBytes)
        guard dlg_curl_web_only(easy) == CURLE_OK else { return .failed(message: "cannot restrict the transfer to http and https", timedOut: false) }
        _ = dlg_curl_setopt_str(easy, CURLOPT_URL, url)
        _ = dlg_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = dlg_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, max(1, Int(timeout * 1000)))
        _ = dlg_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, Int(min(timeout, 15) * 1000))
        _ = dlg_curl_setopt_long(easy, CURLOPT_TCP_NODELAY, 1)
        // The receive buffer is allocated per transfer (16 KiB by default): with hundreds in flight
        // that is megabytes for replies of a few KiB, which arrive in a few more callbacks instead.
        _ = dlg_curl_setopt_long(easy, CURLOPT_BUFFERSIZE, 4096)
        for h in headers + ["Expect:"] { t.headers = curl_slist_append(t.headers, h) }
        _ = dlg_curl_setopt_ptr(easy, CURLOPT_HTTPHEADER, UnsafeRawPointer(t.headers))
        if method == "POST" || method == "PUT" {
            let count = body?.count ?? 0
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, count))
            body?.withUnsafeBufferPointer { p.initialize(from: $0.baseAddress!, count: count) }
            // libcurl reads the body from `p` until the transfer ends; the array is not needed meanwhile.
            body = nil
            t.postData = p
            _ = dlg_curl_setopt_long(easy, CURLOPT_POST, 1)
            _ = dlg_curl_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(count))
            _ = dlg_curl_setopt_ptr(easy, CURLOPT_POSTFIELDS, UnsafeRawPointer(p))
            // A PUT with a body (the Hub's LFS upload): the POST set-up, sent as PUT.
            if method == "PUT" { _ = dlg_curl_setopt_str(easy, CURLOPT_CUSTOMREQUEST, "PUT") }
        } else {
            _ = dlg_curl_setopt_long(easy, CURLOPT_HTTPGET, 1)
        }
        let context = Unmanaged.passUnretained(t).toOpaque()
        _ = dlg_curl_setopt_write(easy, CURLOPT_WRITEFUNCTION) { ptr, size, count, user in
            let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
            let n = size * count
            // Past the cap the transfer stops here (a short count is CURLE_WRITE_ERROR): memory is bounded
            // by the cap, not by what the server sends.
            if t.body.count + n > t.limit {
                t.tooLarge = true
                return 0
            }
            ptr!.withMemoryRebound(to: UInt8.self, capacity: n) { t.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
            return n
        }
        _ = dlg_curl_setopt_ptr(easy, CURLOPT_WRITEDATA, context)
        _ = dlg_curl_setopt_write(easy, CURLOPT_HEADERFUNCTION) { ptr, size, count, user in
            let n = size * count
            if n > 12, n < 200 {
                let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self)
                let lower = line.lowercased()
                if lower.hasPrefix("retry-after:") {
                    let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                    t.retryAfter = Double(line.dropFirst(12).trimmingCharacters(in: .whitespacesAndNewlines))
                } else if lower.hasPrefix("x-ratelimit-"), let colon = lower.firstIndex(of: ":") {
                    let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                    t.rateLimit[String(lower[..<colon])] = lower[lower.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            return n
        }
        _ = dlg_curl_setopt_ptr(easy, CURLOPT_HEADERDATA, context)
        _ = dlg_curl_setopt_ptr(easy, CURLOPT_PRIVATE, context)
        return await withCheckedContinuation { (c: CheckedContinuation<Outcome, Never>) in
            t.continuation = c
            // The transfer is retained until the event thread finishes it.
            _ = Unmanaged.passRetained(t)
            lock.withLock { pending.append(t) }
            _ = eventfd_write(wakeFD, 1)
        }
    }

    private static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    private func loop() {
        var running: Int32 = 0
        let capacity = 128
        var fds = [Int32](repeating: 0, count: capacity)
        var ready = [UInt32](repeating: 0, count: capacity)
        /// When libcurl wants `dlg_curl_timeout_event` next (monotonic ns), if at all.
        var deadline: UInt64? = nil
        func takeTimer() {
            guard events.pointee.timer_changed != 0 else { return }
            events.pointee.timer_changed = 0
            let ms = events.pointee.timer_ms
            deadline = ms < 0 ? nil : Self.now() + UInt64(ms) * 1_000_000
        }
        while true {
            let added: [Transfer] = lock.withLock { let p = pending; pending.removeAll(); return p }
            for t in added { curl_multi_add_handle(multi, t.easy) }
            takeTimer()
            var wait: Int32 = 1000
            if let due = deadline {
                let now = Self.now()
                wait = due <= now ? 0 : Int32(min(1000, (due - now + 999_999) / 1_000_000))
            }
            let n = dlg_epoll_wait(events.pointee.epoll_fd, &fds, &ready, Int32(capacity), wait)
            for i in 0..<Int(max(0, n)) {
                if fds[i] == wakeFD {
                    var value: eventfd_t = 0
                    _ = eventfd_read(wakeFD, &value)
                    continue
                }
                _ = dlg_curl_socket_event(multi, fds[i], ready[i], &running)
                takeTimer()
            }
            if let due = deadline, Self.now() >= due {
                deadline = nil
                _ = dlg_curl_timeout_event(multi, &running)
                takeTimer()
            }
            var queued: Int32 = 0
            while let msg = curl_multi_info_read(multi, &queued) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
                let code = dlg_curl_msg_result(msg)
                var raw: UnsafeMutablePointer<CChar>? = nil
                _ = dlg_curl_getinfo_ptr(easy, CURLINFO_PRIVATE, &raw)
                curl_multi_remove_handle(multi, easy)
                guard let raw else { continue }
                let t = Unmanaged<Transfer>.fromOpaque(UnsafeRawPointer(raw)).takeRetainedValue()
                let outcome: Outcome
                if t.tooLarge {
                    outcome = .tooLarge(limit: t.limit, buffered: t.body.count)
                } else if code == CURLE_OK {
                    var status = 0
                    _ = dlg_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
                    outcome = .response(Response(status: status, body: t.body, retryAfter: t.retryAfter, rateLimit: t.rateLimit))
                } else {
                    let message = String(cString: curl_easy_strerror(code)).lowercased()
                    outcome = .failed(message: message, timedOut: code == CURLE_OPERATION_TIMEDOUT)
                }
                let c = t.continuation
                t.continuation = nil
                c?.resume(returning: outcome)
            }
        }
    }
}
