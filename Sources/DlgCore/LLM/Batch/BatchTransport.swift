import Foundation
import Logging

/// How one request sent in a batch ended.
enum BatchLineResult: Sendable {
    /// The provider's answer to the request: the status and body a direct request would have had.
    case reply(status: Int, body: [UInt8])
    /// No answer: expired after the window, the batch cancelled, or the batch could not be followed.
    case unanswered(String)
    /// The batch failed as a whole, and again when retried: the run stops with this error.
    case fatal(String)
}

/// The batching transport under `LLMClient` (`llm.batch_api`): a chat call waits as it waits for a
/// direct reply while its request waits in a file of pending requests (one per endpoint and model).
/// The file is sent once `flush_seconds` pass without a new request, or a limit is reached: uploaded,
/// recorded, made a batch, polled every `poll_seconds`; its output and error files then complete each
/// waiting call by its `custom_id`, the response cache's key of the request. A process started again
/// reads the run's record and finds a request it sends again in the batch that already holds it.
final class BatchTransport: @unchecked Sendable {
    let settings: BatchAPISettings
    let record: BatchRecord
    let log: Logger?
    private let lock = NSLock()

    private struct Queue {
        var api: BatchAPI
        var model: String
        var lines: [(id: String, bytes: [UInt8])] = []
        var bytes = 0
        var lastAdded: UInt64 = 0
        var flusherRunning = false
    }

    private var loaded = false
    private var loadFailure: String?
    private var queues: [String: Queue] = [:]
    private var waiters: [String: [CheckedContinuation<BatchLineResult, Never>]] = [:]
    /// `custom_id` → the recorded file that last held it, for the requests of an earlier process.
    private var recorded: [String: String] = [:]
    private var entries: [String: BatchRecord.Entry] = [:]
    /// Files whose batch a task of this process follows.
    private var following: Set<String> = []
    /// Results of recorded files that no call of this process has asked for yet.
    private var unclaimed: [String: BatchLineResult] = [:]

    init(settings: BatchAPISettings, log: Logger?) {
        self.settings = settings
        record = BatchRecord(location: settings.stateDir, dsn: settings.postgresDSN)
        self.log = log
    }

    /// Sends `body` (a chat completion request for `model`) in a batch and waits for its line.
    func send(customID: String, endpoint: Endpoint, model: String, body: [UInt8]) async -> BatchLineResult {
        await withCheckedContinuation { (c: CheckedContinuation<BatchLineResult, Never>) in
            enqueue(customID, endpoint: endpoint, model: model, body: body, c)
        }
    }

    private func enqueue(_ id: String, endpoint: Endpoint, model: String, body: [UInt8],
                         _ c: CheckedContinuation<BatchLineResult, Never>) {
        enum Next { case none, resume(BatchLineResult), follow(BatchRecord.Entry, BatchAPI), flush(Queue, startFlusher: String?) }
        let api = BatchAPI(baseURL: endpoint.baseURL, apiKey: endpoint.apiKey)
        let next: Next = lock.withLock {
            loadOnce()
            if let loadFailure { return .resume(.fatal(loadFailure)) }
            if waiters[id] != nil {
                waiters[id]!.append(c)
                return .none
            }
            if let result = unclaimed.removeValue(forKey: id) { return .resume(result) }
            waiters[id] = [c]
            if let file = recorded.removeValue(forKey: id), let entry = entries[file] {
                // Sent by an earlier process: its batch answers it (once; a retry goes into a new batch).
                return following.insert(file).inserted ? .follow(entry, api) : .none
            }
            let key = endpoint.baseURL + "\u{1F}" + model
            var q = queues[key] ?? Queue(api: api, model: model)
            var full: Queue?
            let size = body.count + id.utf8.count + 80
            if !q.lines.isEmpty && q.bytes + size > settings.maxBytesPerFile {
                full = q
                q = Queue(api: api, model: model, flusherRunning: q.flusherRunning)
            }
            q.lines.append((id, body))
            q.bytes += size
            q.lastAdded = DispatchTime.now().uptimeNanoseconds
            if full == nil && q.lines.count >= settings.maxRequestsPerFile {
                full = q
                q = Queue(api: api, model: model, flusherRunning: q.flusherRunning)
            }
            var start: String?
            if !q.lines.isEmpty && !q.flusherRunning {
                q.flusherRunning = true
                start = key
            }
            queues[key] = q
            if let full { return .flush(full, startFlusher: start) }
            return start.map { .flush(Queue(api: api, model: model), startFlusher: $0) } ?? .none
        }
        switch next {
        case .none: break
        case .resume(let result): c.resume(returning: result)
        case .follow(let entry, let api): Task { await self.follow(entry, api: api, fromRecord: true) }
        case .flush(let queue, let key):
            if let key { Task { await self.runFlusher(key) } }
            if !queue.lines.isEmpty { Task { await self.submit(queue) } }
        }
    }

    /// Reads the run's record once: which request each earlier file holds (the latest file wins).
    private func loadOnce() {
        guard !loaded else { return }
        loaded = true
        let recordedEntries: [BatchRecord.Entry]
        do throws(DlgError) { recordedEntries = try record.load() } catch {
            // Without the record a request could be submitted twice: every call fails instead.
            loadFailure = "the run's batch record cannot be read (\(record.path)): \(error.message)"
            return
        }
        // A file whose batch failed as a whole (twice) answered nothing: its requests are sent again.
        for entry in recordedEntries where entry.status != "failed" {
            entries[entry.fileID] = entry
            for id in entry.ids { recorded[id] = entry.fileID }
        }
        if !entries.isEmpty { log?.info("batch record: \(entries.count) file(s), \(recorded.count) request(s) from before \(record.path)") }
    }

    /// Sends a queue's file once `flush_seconds` have passed without a new request.
    private func runFlusher(_ key: String) async {
        while true {
            let wait: Double? = lock.withLock {
                guard let q = queues[key], !q.lines.isEmpty else {
                    queues[key]?.flusherRunning = false
                    return nil
                }
                return settings.flushSeconds - Double(DispatchTime.now().uptimeNanoseconds - q.lastAdded) / 1e9
            }
            guard let wait else { return }
            if wait > 0 {
                try? await Task.sleep(nanoseconds: UInt64(wait * 1e9) + 1_000_000)
                continue
            }
            let taken: Queue? = lock.withLock {
                guard let q = queues[key], !q.lines.isEmpty else { return nil }
                queues[key] = Queue(api: q.api, model: q.model)
                return q
            }
            if let taken { await submit(taken) }
            return
        }
    }

    /// Uploads a queue's requests as one file, records it, then follows its batch.
    private func submit(_ q: Queue) async {
        var jsonl: [UInt8] = []
        jsonl.reserveCapacity(q.bytes)
        for line in q.lines {
            jsonl += Array(#"{"custom_id":"#.utf8)
            JSON.string(line.id).write(into: &jsonl)
            jsonl += Array(#","method":"POST","url":"/v1/chat/completions","body":"#.utf8)
            jsonl += line.bytes
            jsonl += Array("}\n".utf8)
        }
        let ids = q.lines.map(\.id)
        do throws(DlgError) {
            let fileID = try await retrying("upload of \(ids.count) request(s)") { () throws(DlgError) in
                try await q.api.upload(jsonl, filename: "dlgforge-batch.jsonl")
            }
            let entry = BatchRecord.Entry(fileID: fileID, baseURL: q.api.baseURL, model: q.model, ids: ids, bytes: jsonl.count)
            try record.fileUploaded(entry)
            lock.withLock {
                entries[fileID] = entry
                following.insert(fileID)
            }
            log?.info("batch file \(fileID): \(ids.count) request(s), \(jsonl.count) bytes, model=\(q.model)")
            await follow(entry, api: q.api, fromRecord: false)
        } catch {
            deliver(ids, file: nil, results: [:], missing: .unanswered("batch file not sent: \(error.message)"))
        }
    }

    /// Creates (or finds) the file's batch, waits for it to end, and completes its calls. A batch that
    /// fails as a whole is made again from the same file once; failing again, its calls end `fatal`.
    private func follow(_ start: BatchRecord.Entry, api: BatchAPI, fromRecord: Bool) async {
        var entry = start
        do throws(DlgError) {
            if entry.batchIDs.isEmpty {
                // A process killed between upload and create: the batch may exist already.
                let found = fromRecord ? try await api.list().first { $0.inputFileID == entry.fileID } : nil
                let batch: BatchObject
                if let found { batch = found } else {
                    batch = try await retrying("batch of \(entry.fileID)") { () throws(DlgError) in try await api.create(inputFileID: entry.fileID) }
                }
                try record.batchCreated(batch.id, fileID: entry.fileID)
                entry.batchIDs.append(batch.id)
                log?.info("batch \(batch.id) created from \(entry.fileID) (\(entry.ids.count) request(s))")
            }
            while true {
                let batch = try await waitForEnd(entry.batchIDs.last!, api: api)
                try record.batchDone(batch)
                if batch.status == "failed" {
                    log?.warning("batch \(batch.id) failed as a whole: \(batch.errors)")
                    guard entry.batchIDs.count < 2 else {
                        deliver(entry.ids, file: entry.fileID, results: [:],
                                missing: .fatal("batch \(batch.id) failed as a whole twice: \(batch.errors.isEmpty ? "no reason given" : batch.errors)"))
                        return
                    }
                    let again = try await retrying("batch of \(entry.fileID)") { () throws(DlgError) in try await api.create(inputFileID: entry.fileID) }
                    try record.batchCreated(again.id, fileID: entry.fileID)
                    entry.batchIDs.append(again.id)
                    continue
                }
                let results = try await BatchOutput.read(batch, api: api)
                log?.info("batch \(batch.id) \(batch.status): \(batch.completed) completed, \(batch.failed) failed of \(batch.total)")
                deliver(entry.ids, file: entry.fileID, results: results, missing: .unanswered("batch \(batch.id) \(batch.status) without answering the request"))
                return
            }
        } catch {
            deliver(entry.ids, file: entry.fileID, results: [:], missing: .unanswered("batch of \(entry.fileID): \(error.message)"))
        }
    }

    /// Polls a batch until it ends; a poll that fails is tried again at the next (a few times).
    private func waitForEnd(_ id: String, api: BatchAPI) async throws(DlgError) -> BatchObject {
        var failures = 0
        while true {
            try? await Task.sleep(nanoseconds: UInt64(settings.pollSeconds * 1e9))
            do throws(DlgError) {
                let batch = try await api.batch(id)
                failures = 0
                if batch.isTerminal { return batch }
            } catch {
                failures += 1
                if error.code == .config || failures >= 10 { throw error }
                log?.warning("batch \(id): \(error.message); polling again")
            }
        }
    }

    /// Completes the waiting calls of `ids`; a result no call waits for is kept for the call of this
    /// process that asks for it (a restarted run's dialogues get to their requests in their own time).
    private func deliver(_ ids: [String], file: String?, results: [String: BatchLineResult], missing: BatchLineResult) {
        var resume: [(CheckedContinuation<BatchLineResult, Never>, BatchLineResult)] = []
        lock.withLock {
            if let file { following.remove(file) }
            for id in ids {
                let result = results[id] ?? missing
                if let ws = waiters.removeValue(forKey: id) {
                    for w in ws { resume.append((w, result)) }
                } else if let file, recorded[id] == file {
                    recorded.removeValue(forKey: id)
                    unclaimed[id] = result
                }
            }
        }
        for (w, result) in resume { w.resume(returning: result) }
    }

    /// `body`, tried up to 5 times with backoff while the failure is not the request's own fault.
    private func retrying<T>(_ what: String, _ body: () async throws(DlgError) -> T) async throws(DlgError) -> T {
        var attempt = 0
        while true {
            do throws(DlgError) { return try await body() } catch {
                attempt += 1
                if error.code == .config || attempt >= 5 { throw error }
                log?.warning("\(what): \(error.message); trying again")
                try? await Task.sleep(nanoseconds: UInt64(RetryPolicy.delay(attempt: attempt, retryAfter: nil) * 1e9))
            }
        }
    }
}
