import Foundation

/// The provider's Files and Batch APIs (OpenAI's shapes, which other OpenAI-compatible providers
/// serve too), over the shared HTTP transport: upload a JSONL of requests (`POST /files`, multipart,
/// `purpose=batch`), create a batch over it (`POST /batches`, `completion_window: 24h`), ask where it
/// stands, cancel it, and download its output and error files (`GET /files/{id}/content`).
struct BatchAPI: Sendable {
    let baseURL: String
    let apiKey: String
    /// Seconds for one HTTP call (an upload or a download of a big file takes longer than a chat call).
    var timeout: Double = 600
    /// The most an output or error file may hold: far above a chat reply (a file holds up to 50,000).
    var maxDownloadBytes = 8 << 30

    static let chatEndpoint = "/v1/chat/completions"

    private func headers(_ contentType: String?) -> [String] {
        var h = ["Accept: application/json"]
        if let contentType { h.append("Content-Type: \(contentType)") }
        if !apiKey.isEmpty { h.append("Authorization: Bearer \(apiKey)") }
        return h
    }

    private func call(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
                      maxBytes: Int = 64 << 20) async throws(DlgError) -> [UInt8] {
        let outcome = await CurlTransport.shared.perform(url: baseURL + path, method: method, headers: headers(contentType),
                                                         body: body, timeout: timeout, maxResponseBytes: maxBytes)
        switch outcome {
        case .response(let r) where r.status == 200:
            return r.body
        case .response(let r):
            let text = String(Redact.text(String(decoding: r.body.prefix(4096), as: UTF8.self)).prefix(300))
            let code: DlgError.Code = RetryPolicy.isFinal(r.status) ? .config : .unavailable
            throw DlgError(code, "\(method) \(path): HTTP \(r.status): \(text)")
        case .failed(let message, let timedOut):
            throw DlgError.unavailable("\(method) \(path): \(timedOut ? "timed out" : "connection error (\(message))")")
        case .tooLarge(let limit, _):
            throw DlgError.unavailable("\(method) \(path): the reply is larger than \(limit) bytes")
        }
    }

    private func object(_ bytes: [UInt8], _ what: String) throws(DlgError) -> JSON {
        guard let json = try? JSONCodec.parse(bytes), json.objectValue != nil else {
            throw DlgError.unavailable("\(what): the reply is not a JSON object")
        }
        return json
    }

    /// Uploads a batch input file; its id.
    func upload(_ jsonl: [UInt8], filename: String) async throws(DlgError) -> String {
        let boundary = "dlgforge-" + UUID().uuidString
        var body: [UInt8] = []
        body.reserveCapacity(jsonl.count + 400)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: application/jsonl\r\n\r\n".utf8)
        body += jsonl
        body += Array("\r\n--\(boundary)--\r\n".utf8)
        let reply = try object(try await call("POST", "/files", body: body, contentType: "multipart/form-data; boundary=\(boundary)"), "POST /files")
        guard let id = reply["id"]?.stringValue, !id.isEmpty else { throw DlgError.unavailable("POST /files: the reply has no file id") }
        return id
    }

    /// Creates a batch over an uploaded file; the batch object.
    func create(inputFileID: String) async throws(DlgError) -> BatchObject {
        let request = JSON.obj(["input_file_id": .string(inputFileID), "endpoint": .string(Self.chatEndpoint),
                                "completion_window": "24h"])
        return BatchObject(try object(try await call("POST", "/batches", body: request.compactBytes(), contentType: "application/json"), "POST /batches"))
    }

    func batch(_ id: String) async throws(DlgError) -> BatchObject {
        BatchObject(try object(try await call("GET", "/batches/\(id)"), "GET /batches/\(id)"))
    }

    func cancel(_ id: String) async throws(DlgError) -> BatchObject {
        BatchObject(try object(try await call("POST", "/batches/\(id)/cancel", body: [], contentType: "application/json"), "POST /batches/\(id)/cancel"))
    }

    /// The latest batches (one page of up to 100), to find one created from a file before a crash.
    func list() async throws(DlgError) -> [BatchObject] {
        let reply = try object(try await call("GET", "/batches?limit=100"), "GET /batches")
        return (reply["data"]?.arrayValue ?? []).map(BatchObject.init)
    }

    func content(_ fileID: String) async throws(DlgError) -> [UInt8] {
        try await call("GET", "/files/\(fileID)/content", maxBytes: maxDownloadBytes)
    }
}

/// What the run reads of a batch object.
public struct BatchObject: Sendable, Equatable {
    public var id: String
    public var status: String
    public var inputFileID: String
    public var outputFileID: String?
    public var errorFileID: String?
    public var total: Int
    public var completed: Int
    public var failed: Int
    /// The batch's own errors (why it failed as a whole), joined.
    public var errors: String

    init(_ json: JSON) {
        id = json["id"]?.stringValue ?? ""
        status = json["status"]?.stringValue ?? ""
        inputFileID = json["input_file_id"]?.stringValue ?? ""
        outputFileID = json["output_file_id"]?.stringValue
        errorFileID = json["error_file_id"]?.stringValue
        total = json["request_counts"]?["total"]?.intValue ?? 0
        completed = json["request_counts"]?["completed"]?.intValue ?? 0
        failed = json["request_counts"]?["failed"]?.intValue ?? 0
        errors = (json["errors"]?["data"]?.arrayValue ?? []).compactMap { $0["message"]?.stringValue }.joined(separator: "; ")
    }

    /// The statuses after which nothing changes.
    public static let terminal: Set<String> = ["completed", "failed", "expired", "cancelled"]
    public var isTerminal: Bool { Self.terminal.contains(status) }
}
