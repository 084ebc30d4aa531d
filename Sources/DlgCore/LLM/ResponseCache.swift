import CSQLite
import Foundation

/// Replies of finished chat and embedding calls, keyed by what determines the answer (model, messages,
/// tools, response format, sampling parameters, seed; never the endpoint or the key), in one SQLite
/// file under the output folder (`llm.cache.path`). A rerun, a resumed run or a second run with the same
/// `run.question_seed` replays them without a request. Several processes use it at once (the four
/// stages of a run): SQLite's write-ahead log serialises their writes, and a transaction killed midway
/// (SIGKILL) is rolled back at the next open, so no torn entry is ever read; each entry also carries a
/// checksum of its body, checked on every read. Why SQLite: docs/decisions.md.
///
/// Writes are behind the calls: `put` queues the entry, and the queue is committed as one transaction
/// when it holds `batchLimit` entries or `flushDelay` after its first entry, and at `flush()` (a stage
/// calls it when it ends). One commit per entry took about an eighth of a stage's CPU per request with
/// four stages sharing the file (each commit locks and writes the WAL); a kill loses at most the
/// entries of the last fraction of a second, which only costs their requests again on a rerun.
public final class ResponseCache: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private var db: OpaquePointer?
    private var getStatement: OpaquePointer?
    private var putStatement: OpaquePointer?
    private var hitCount = 0
    private var missCount = 0
    private var badCount = 0
    /// Entries put and not yet committed, in order, and by key for `get`.
    private var pending: [(key: String, body: [UInt8])] = []
    private var pendingIndex: [String: Int] = [:]
    private var flushScheduled = false
    private let flusher = DispatchQueue(label: "dlgforge.response-cache")
    static let batchLimit = 64
    static let flushDelay: DispatchTimeInterval = .milliseconds(50)

    /// Opens (or creates) the cache file.
    public init(path: String) throws(DlgError) {
        self.path = path
        try Files.makeDirectory((path as NSString).deletingLastPathComponent)
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let why = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw DlgError.io("\(path): cannot open the response cache: \(why)")
        }
        db = handle
        // Four stages open it at once: wait for each other's locks instead of failing.
        sqlite3_busy_timeout(handle, 30_000)
        for sql in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                    "CREATE TABLE IF NOT EXISTS replies(key TEXT PRIMARY KEY, body BLOB NOT NULL, checksum INTEGER NOT NULL, created_at REAL NOT NULL)"] {
            guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else {
                let why = String(cString: sqlite3_errmsg(handle))
                sqlite3_close(handle)
                db = nil
                throw DlgError.io("\(path): cannot open the response cache (\(sql.prefix(20))...): \(why)")
            }
        }
        sqlite3_prepare_v2(handle, "SELECT body, checksum FROM replies WHERE key = ?1", -1, &getStatement, nil)
        sqlite3_prepare_v2(handle, "INSERT OR REPLACE INTO replies(key, body, checksum, created_at) VALUES(?1, ?2, ?3, ?4)",
                           -1, &putStatement, nil)
        guard getStatement != nil, putStatement != nil else {
            let why = String(cString: sqlite3_errmsg(handle))
            sqlite3_finalize(getStatement)
            sqlite3_finalize(putStatement)
            sqlite3_close(handle)
            db = nil
            throw DlgError.io("\(path): cannot prepare the response cache: \(why)")
        }
    }

    deinit {
        flush()
        sqlite3_finalize(getStatement)
        sqlite3_finalize(putStatement)
        sqlite3_close(db)
    }

    /// Replies served from the cache, lookups that found nothing, and entries found damaged (not served).
    public var hits: Int { lock.withLock { hitCount } }
    public var misses: Int { lock.withLock { missCount } }
    public var damaged: Int { lock.withLock { badCount } }

    /// 64-bit FNV-1a of the bytes, as a signed integer for SQLite.
    static func checksum(_ bytes: [UInt8]) -> Int64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        return Int64(bitPattern: h)
    }

    /// A 128-bit key from the kind of call and what determines its answer: two FNV-1a hashes of the
    /// text with different seeds, computed in one pass (each is a chain of dependent multiplies, so two
    /// chains side by side cost about what one does).
    public static func key(_ kind: String, _ parts: JSON) -> String {
        var text = Array(kind.utf8)
        text.append(0x1F)
        parts.write(into: &text)
        return key(text: text)
    }

    /// The key of a text already built (`kind`, 0x1F, then the parts serialized).
    static func key(text: [UInt8]) -> String {
        var a: UInt64 = 0xcbf2_9ce4_8422_2325
        var b: UInt64 = 0x6c62_272e_07bb_0142
        text.withUnsafeBufferPointer { bytes in
            for byte in bytes {
                a = (a ^ UInt64(byte)) &* 0x100_0000_01b3
                b = (b ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return hex(a) + hex(b)
    }

    private static func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The body stored under `key`, when there is one and it is whole.
    public func get(_ key: String) -> [UInt8]? {
        lock.withLock {
            if let i = pendingIndex[key] { hitCount += 1; return pending[i].body }
            guard let s = getStatement else { return nil }
            defer { sqlite3_reset(s) }
            sqlite3_bind_text(s, 1, key, -1, dlg_sqlite_transient())
            guard sqlite3_step(s) == SQLITE_ROW else { missCount += 1; return nil }
            let count = Int(sqlite3_column_bytes(s, 0))
            var body = [UInt8](repeating: 0, count: count)
            if count > 0, let p = sqlite3_column_blob(s, 0) {
                body.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: p, count: count)) }
            }
            guard sqlite3_column_int64(s, 1) == Self.checksum(body) else { badCount += 1; missCount += 1; return nil }
            hitCount += 1
            return body
        }
    }

    /// Stores `body` under `key`, with the next commit of the queue (see the type's comment).
    public func put(_ key: String, _ body: [UInt8]) {
        let (full, schedule): (Bool, Bool) = lock.withLock {
            if let i = pendingIndex[key] { pending[i].body = body } else {
                pendingIndex[key] = pending.count
                pending.append((key, body))
            }
            let schedule = !flushScheduled
            flushScheduled = true
            return (pending.count >= Self.batchLimit, schedule)
        }
        if full { flush() } else if schedule {
            flusher.asyncAfter(deadline: .now() + Self.flushDelay) { [weak self] in self?.flush() }
        }
    }

    /// Commits the queued entries in one transaction; true when all are stored. A commit that fails (a
    /// full disk) only costs later cache misses.
    @discardableResult
    public func flush() -> Bool {
        lock.withLock {
            flushScheduled = false
            guard !pending.isEmpty else { return true }
            defer { pending.removeAll(keepingCapacity: true); pendingIndex.removeAll(keepingCapacity: true) }
            guard let s = putStatement, sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK else { return false }
            let now = Date().timeIntervalSince1970
            var stored = true
            for (key, body) in pending {
                sqlite3_bind_text(s, 1, key, -1, dlg_sqlite_transient())
                _ = body.withUnsafeBytes { sqlite3_bind_blob(s, 2, $0.baseAddress, Int32($0.count), dlg_sqlite_transient()) }
                sqlite3_bind_int64(s, 3, Self.checksum(body))
                sqlite3_bind_double(s, 4, now)
                if sqlite3_step(s) != SQLITE_DONE { stored = false }
                sqlite3_reset(s)
            }
            guard sqlite3_exec(db, "COMMIT", nil, nil, nil) == SQLITE_OK else {
                sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
                return false
            }
            return stored
        }
    }

    /// Every entry read and checked: how many there are and how many are damaged.
    public func check() -> (entries: Int, damaged: Int) {
        flush()
        return lock.withLock {
            var s: OpaquePointer?
            guard sqlite3_prepare_v2(db, "SELECT body, checksum FROM replies", -1, &s, nil) == SQLITE_OK, let s else { return (0, 0) }
            defer { sqlite3_finalize(s) }
            var entries = 0, bad = 0
            while sqlite3_step(s) == SQLITE_ROW {
                entries += 1
                let count = Int(sqlite3_column_bytes(s, 0))
                var body = [UInt8](repeating: 0, count: count)
                if count > 0, let p = sqlite3_column_blob(s, 0) {
                    body.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: p, count: count)) }
                }
                if sqlite3_column_int64(s, 1) != Self.checksum(body) { bad += 1 }
            }
            return (entries, bad)
        }
    }

    /// Runs one SQL statement (tests use it to damage an entry on purpose).
    func execute(_ sql: String) -> Bool {
        flush()
        return lock.withLock { sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK }
    }
}

extension ResponseCache {
    /// The key of a chat call: what the server's answer depends on, as the agent asks for it (the
    /// endpoint's model names when they differ from the agent's, never its URL or key).
    static func chatKey(agent: AgentSettings, messages: [ChatMessage], format: ResponseFormat, tools: [JSON]) -> String {
        chatKey(agent: agent, messagesJSON: JSON.array(messages).compactBytes(), format: format, tools: tools)
    }

    /// The same, with the messages already serialized (`LLMClient.chat` sends the same bytes).
    static func chatKey(agent: AgentSettings, messagesJSON: [UInt8], format: ResponseFormat, tools: [JSON]) -> String {
        var models = Set(agent.endpoints.map { $0.model.isEmpty ? agent.model : $0.model })
        if models.isEmpty { models.insert(agent.model) }
        var parts = JSONObject()
        parts["model"] = JSON(models.sorted())
        // messages, tools and a JSON response format are written from bytes serialized before.
        parts["messages"] = .null
        parts["tools"] = .null
        var raw: [(key: String, bytes: [UInt8])] = [("messages", messagesJSON), ("tools", RequestParts.shared.bytes(.array(tools)))]
        switch format {
        case .text: parts["response_format"] = "text"
        case .json(let name, let schema):
            parts["response_format"] = .null
            raw.append(("response_format", RequestParts.shared.keyFormat(name: name, schema: schema)))
        }
        if let t = agent.temperature { parts["temperature"] = .double(t) }
        if let m = agent.maxTokens { parts["max_tokens"] = .int(m) }
        if let p = agent.topP { parts["top_p"] = .double(p) }
        parts["extra"] = .object(agent.extra)
        if let seed = agent.requestSeed { parts["seed"] = .int(seed) }
        var text = Array("chat".utf8)
        text.append(0x1F)
        JSON.write(parts, raw: raw, into: &text)
        return key(text: text)
    }
}

extension LLMClient {
    /// A chat reply from the cache, checked as a fresh reply is (a chat completion with a message; the
    /// agent then validates its content as always). Nothing is spent: its usage is not added to the
    /// process's total.
    func cachedChat(_ key: String, agent: AgentSettings, label: String) -> ChatReply? {
        guard let cache, let data = cache.get(key) else { return nil }
        guard let reply = try? JSONCodec.parse(data), let choice = reply["choices"]?.arrayValue?.first,
              let message = choice["message"], message.objectValue != nil
        else {
            log?.warning("agent=\(agent.agent.rawValue) cache=invalid \(label)")
            return nil
        }
        var usage = TokenUsage()
        usage.promptTokens = reply["usage"]?["prompt_tokens"]?.intValue ?? 0
        usage.completionTokens = reply["usage"]?["completion_tokens"]?.intValue ?? 0
        let served = reply["model"]?.stringValue ?? agent.model
        log?.info("agent=\(agent.agent.rawValue) cache=hit served_by=\(served) \(label)")
        return ChatReply(message: message, finishReason: choice["finish_reason"]?.stringValue ?? "",
                         usage: usage, model: served, endpoint: "cache", raw: reply)
    }

    /// One line for llm.log at the end of a stage: requests sent, tokens, and what the cache saved.
    public func logSummary(tool: String) {
        // The stage is ending: its last replies go to the cache file now, not with the process.
        cache?.flush()
        let u = totalUsage
        var line = "summary tool=\(tool) requests=\(u.requests) prompt_tokens=\(u.promptTokens) completion_tokens=\(u.completionTokens)"
        if let cache {
            line += " cache_hits=\(cache.hits) cache_misses=\(cache.misses)"
            if cache.damaged > 0 { line += " cache_damaged=\(cache.damaged)" }
        } else {
            line += " cache=off"
        }
        log?.info("\(line)")
    }
}
