// OpenAI's Files and Batch APIs over the mock's engine: `POST /v1/files` (multipart, purpose=batch),
// `GET /v1/files/{id}` and `/content`, `POST /v1/batches`, `GET /v1/batches[/{id}]` and
// `POST /v1/batches/{id}/cancel`. A batch's lines are answered by the engine that answers
// `/v1/chat/completions`, so a request gets the same reply in a batch as sent directly.

import Foundation

extension MockEngine {
    /// The reply for a files or batches route; nil when `route` is neither.
    func batchRoute(method: String, route: Substring, body: UnsafeRawBufferPointer) -> MockOutcome? {
        let parts = route.split(separator: "/")
        guard parts.count >= 2, parts[0] == "v1", parts[1] == "files" || parts[1] == "batches" else { return nil }
        count { $0.requests += 1 }
        let response: MockResponse
        switch (parts[1], parts.count, method, parts.last) {
        case ("files", 2, "POST", _): response = uploadFile(Array(body))
        case ("files", 3, "GET", _): response = fileObject(String(parts[2]))
        case ("files", 4, "GET", "content"): response = fileContent(String(parts[2]))
        case ("batches", 2, "POST", _): response = createBatch(body)
        case ("batches", 2, "GET", _): response = listBatches()
        case ("batches", 3, "GET", _): response = batchObject(String(parts[2]))
        case ("batches", 4, "POST", "cancel"): response = cancelBatch(String(parts[2]))
        default:
            count { $0.notFound += 1 }
            return .respond(errorResponse(404, "unknown path \(route) for \(method)", type: "invalid_request_error", code: "not_found"), delayNanoseconds: 0)
        }
        return .respond(response, delayNanoseconds: 0)
    }

    private func ok(_ value: JSONValue) -> MockResponse {
        MockResponse(status: 200, body: JSONWriter.serialize(value))
    }

    private var now: Int { Int(Date().timeIntervalSince1970) }

    private func uploadFile(_ body: [UInt8]) -> MockResponse {
        guard let parts = Multipart.parts(body), let file = parts.first(where: { $0.name == "file" }) else {
            return errorResponse(400, "expected multipart/form-data with a 'file' part", type: "invalid_request_error", param: "file")
        }
        let purpose = parts.first(where: { $0.name == "purpose" }).map { String(decoding: $0.body, as: UTF8.self) } ?? ""
        guard purpose == "batch" else {
            return errorResponse(400, "purpose must be 'batch' (got '\(purpose)')", type: "invalid_request_error", param: "purpose")
        }
        let stored: MockFile = lock.withLock {
            let f = MockFile(id: batchStore.newID("file-"), filename: file.filename ?? "upload.jsonl", purpose: purpose,
                             bytes: file.body, createdAt: now)
            batchStore.files[f.id] = f
            counters.filesUploaded += 1
            counters.bytesUploaded += f.bytes.count
            return f
        }
        return ok(stored.json)
    }

    private func fileObject(_ id: String) -> MockResponse {
        guard let file = lock.withLock({ batchStore.files[id] }) else { return notFound("file", id) }
        return ok(file.json)
    }

    private func fileContent(_ id: String) -> MockResponse {
        guard let file = lock.withLock({ batchStore.files[id] }) else { return notFound("file", id) }
        return MockResponse(status: 200, body: file.bytes)
    }

    private func notFound(_ kind: String, _ id: String) -> MockResponse {
        errorResponse(404, "No such \(kind): '\(id)'", type: "invalid_request_error", code: "not_found")
    }

    private func createBatch(_ body: UnsafeRawBufferPointer) -> MockResponse {
        guard let request = try? JSONParser.parse(body), let fileID = request["input_file_id"]?.stringValue else {
            return errorResponse(400, "expected a JSON object with input_file_id", type: "invalid_request_error", param: "input_file_id")
        }
        let endpoint = request["endpoint"]?.stringValue ?? ""
        guard endpoint == "/v1/chat/completions" else {
            return errorResponse(400, "endpoint must be /v1/chat/completions", type: "invalid_request_error", param: "endpoint")
        }
        guard request["completion_window"]?.stringValue == "24h" else {
            return errorResponse(400, "completion_window must be 24h", type: "invalid_request_error", param: "completion_window")
        }
        let due = DispatchTime.now().uptimeNanoseconds + UInt64(options.batchDelayMs * 1_000_000)
        let created: MockBatch? = lock.withLock {
            guard let file = batchStore.files[fileID] else { return nil }
            var batch = MockBatch(id: batchStore.newID("batch_"), inputFileID: fileID, endpoint: endpoint, createdAt: now,
                                  dueNanoseconds: due, failsWhole: counters.batchesCreated < options.batchFailures)
            switch MockBatchInput.parse(file.bytes, endpoint: endpoint) {
            case .failure(let problem):
                batch.status = "failed"
                batch.finishedAt = now
                batch.errors = [(problem.code, problem.message, problem.line)]
            case .success(var lines):
                for i in lines.indices {
                    lines[i].submission = batchStore.submissions[lines[i].customID, default: 0]
                    if lines[i].submission > 0 { counters.customIDsResubmitted += 1 }
                    batchStore.submissions[lines[i].customID] = lines[i].submission + 1
                }
                batch.total = lines.count
                batch.lines = lines
            }
            counters.batchesCreated += 1
            batchStore.batches[batch.id] = batch
            batchStore.order.append(batch.id)
            return batch
        }
        guard let created else { return notFound("file", fileID) }
        return ok(created.json)
    }

    private func listBatches() -> MockResponse {
        let ids: [String] = lock.withLock { batchStore.order.reversed() }
        let batches = ids.compactMap { advance($0) }
        return ok(.object([("object", .string("list")), ("data", .array(batches.map(\.json))),
                           ("first_id", ids.first.map(JSONValue.string) ?? .null), ("last_id", ids.last.map(JSONValue.string) ?? .null),
                           ("has_more", .bool(false))]))
    }

    private func batchObject(_ id: String) -> MockResponse {
        guard let batch = advance(id) else { return notFound("batch", id) }
        return ok(batch.json)
    }

    private func cancelBatch(_ id: String) -> MockResponse {
        let batch: MockBatch? = lock.withLock {
            guard var b = batchStore.batches[id] else { return nil }
            if !b.isTerminal && b.status != "finalizing" {
                b.status = "cancelled"
                b.finishedAt = now
                b.failed = b.total
                b.lines = []
                counters.batchesCancelled += 1
                batchStore.batches[id] = b
            }
            return b
        }
        guard let batch else { return notFound("batch", id) }
        return ok(batch.json)
    }

    /// The batch as it stands now: moved on to `in_progress`, then (once its delay has passed) answered
    /// and `completed` or `expired`, or `failed` as a whole.
    private func advance(_ id: String) -> MockBatch? {
        let due: MockBatch? = lock.withLock {
            guard var b = batchStore.batches[id] else { return nil }
            if b.status == "validating" {
                b.status = b.failsWhole ? "failed" : "in_progress"
                if b.failsWhole {
                    b.finishedAt = now
                    b.errors = [("server_error", "the batch failed as a whole (injected by dlg-mock --batch-failures)", nil)]
                    b.lines = []
                }
            }
            if b.status == "in_progress" && DispatchTime.now().uptimeNanoseconds >= b.dueNanoseconds {
                b.status = "finalizing"
                batchStore.batches[id] = b
                return b
            }
            batchStore.batches[id] = b
            return nil
        }
        if let due { finish(due) }
        return lock.withLock { batchStore.batches[id] }
    }

    /// Answers every line of `batch` (outside the lock: the engine takes it per request) and stores the
    /// output and error files.
    private func finish(_ batch: MockBatch) {
        var output: [UInt8] = [], errors: [UInt8] = []
        var completed = 0, failed = 0, expired = 0
        for line in batch.lines {
            let draw = Draw(base: { var h = StableHash(seed: options.seed); h.add(line.customID); return h.value }())
            let requestID = "batch_req_" + hex(draw.bits(7))
            if Double(draw.bits(200 + UInt64(line.submission)) >> 11) / Double(1 << 53) < options.batchExpireRate {
                expired += 1
                failed += 1
                errors += Self.line(requestID, line.customID, status: nil, body: nil,
                                    error: ("batch_expired", "This request could not be executed before the completion window expired."))
                continue
            }
            if Double(draw.bits(100 + UInt64(line.submission)) >> 11) / Double(1 << 53) < options.batchErrorRate {
                failed += 1
                let body = errorResponse(500, "The server had an error processing this request (injected by dlg-mock).", type: "server_error").body
                errors += Self.line(requestID, line.customID, status: 500, body: body, error: nil)
                continue
            }
            let (status, body): (Int, [UInt8]) = line.body.withUnsafeBytes { raw in
                if case .respond(let r, _) = chatCompletion(raw, inBatch: true) { return (r.status, r.body) }
                return (500, errorResponse(500, "no reply", type: "server_error").body)
            }
            if status == 200 {
                completed += 1
                output += Self.line(requestID, line.customID, status: status, body: body, error: nil)
            } else {
                failed += 1
                errors += Self.line(requestID, line.customID, status: status, body: body, error: nil)
            }
        }
        lock.withLock {
            guard var b = batchStore.batches[batch.id] else { return }
            if !output.isEmpty { b.outputFileID = store(output, name: "batch_output.jsonl") }
            if !errors.isEmpty { b.errorFileID = store(errors, name: "batch_errors.jsonl") }
            b.completed = completed
            b.failed = failed
            b.status = expired > 0 ? "expired" : "completed"
            b.finishedAt = now
            b.lines = []
            batchStore.batches[batch.id] = b
        }
    }

    /// Stores a generated file (the lock is held).
    private func store(_ bytes: [UInt8], name: String) -> String {
        let f = MockFile(id: batchStore.newID("file-"), filename: name, purpose: "batch_output", bytes: bytes, createdAt: now)
        batchStore.files[f.id] = f
        return f.id
    }

    /// One line of an output or error file.
    static func line(_ id: String, _ customID: String, status: Int?, body: [UInt8]?, error: (code: String, message: String)?) -> [UInt8] {
        var w = JSONWriter(capacity: (body?.count ?? 0) + 200)
        w.raw("{\"id\":")
        w.string(id)
        w.raw(",\"custom_id\":")
        w.string(customID)
        if let status, let body {
            w.raw(",\"response\":{\"status_code\":")
            w.int(status)
            w.raw(",\"request_id\":")
            w.string("req_" + id.dropFirst(10))
            w.raw(",\"body\":")
            w.raw(String(decoding: body, as: UTF8.self))
            w.raw("}")
        } else {
            w.raw(",\"response\":null")
        }
        if let error {
            w.raw(",\"error\":{\"code\":")
            w.string(error.code)
            w.raw(",\"message\":")
            w.string(error.message)
            w.raw("}}\n")
        } else {
            w.raw(",\"error\":null}\n")
        }
        return w.bytes
    }
}
