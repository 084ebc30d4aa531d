// The files and batches the mock holds in memory for `/v1/files` and `/v1/batches`, as OpenAI's
// Files and Batch APIs keep them: an uploaded JSONL of requests, a batch over it that moves from
// `validating` to a terminal status, and the output and error files it leaves.

import Foundation

/// An uploaded or generated file.
struct MockFile {
    var id: String
    var filename: String
    var purpose: String
    var bytes: [UInt8]
    var createdAt: Int

    var json: JSONValue {
        .object([("id", .string(id)), ("object", .string("file")), ("bytes", .int(bytes.count)),
                 ("created_at", .int(createdAt)), ("filename", .string(filename)), ("purpose", .string(purpose))])
    }
}

/// One batch and where it stands.
struct MockBatch {
    var id: String
    var inputFileID: String
    var endpoint: String
    var status = "validating"
    var createdAt: Int
    /// Monotonic time (ns) after which the batch's lines are answered.
    var dueNanoseconds: UInt64
    /// Whether this batch fails as a whole (`MockOptions.batchFailures`).
    var failsWhole: Bool
    var outputFileID: String?
    var errorFileID: String?
    var total = 0
    var completed = 0
    var failed = 0
    var errors: [(code: String, message: String, line: Int?)] = []
    var finishedAt: Int?
    /// The requests, until they are answered.
    var lines: [MockBatchLine] = []

    static let terminal: Set<String> = ["failed", "completed", "expired", "cancelled"]
    var isTerminal: Bool { Self.terminal.contains(status) }

    var json: JSONValue {
        func optional(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        func at(_ name: String) -> JSONValue { status == name ? finishedAt.map(JSONValue.int) ?? .null : .null }
        let errorList: JSONValue = errors.isEmpty ? .null : .object([
            ("object", .string("list")),
            ("data", .array(errors.map { .object([("code", .string($0.code)), ("message", .string($0.message)),
                                                  ("param", .null), ("line", $0.line.map(JSONValue.int) ?? .null)]) })),
        ])
        return .object([
            ("id", .string(id)), ("object", .string("batch")), ("endpoint", .string(endpoint)), ("errors", errorList),
            ("input_file_id", .string(inputFileID)), ("completion_window", .string("24h")), ("status", .string(status)),
            ("output_file_id", optional(outputFileID)), ("error_file_id", optional(errorFileID)),
            ("created_at", .int(createdAt)), ("expires_at", .int(createdAt + 86400)),
            ("completed_at", at("completed")), ("failed_at", at("failed")), ("expired_at", at("expired")),
            ("cancelled_at", at("cancelled")),
            ("request_counts", .object([("total", .int(total)), ("completed", .int(completed)), ("failed", .int(failed))])),
            ("metadata", .object([])),
        ])
    }
}

/// The mock's files and batches, behind the engine's lock.
struct MockBatchStore {
    var files: [String: MockFile] = [:]
    var batches: [String: MockBatch] = [:]
    /// Batch ids in creation order (for `GET /v1/batches`).
    var order: [String] = []
    /// How many created batches held each `custom_id` so far.
    var submissions: [String: Int] = [:]
    var nextID = 0

    mutating func newID(_ prefix: String) -> String {
        nextID += 1
        return prefix + String(format: "%06d", nextID)
    }
}

/// One request line of a batch input file.
struct MockBatchLine {
    var customID: String
    var body: [UInt8]
    /// How many batches held this `custom_id` before this one (0 the first time).
    var submission = 0
}

enum MockBatchInput {
    /// The request lines of a batch input file, or the first problem (code, message, 1-based line).
    static func parse(_ bytes: [UInt8], endpoint: String) -> Result<[MockBatchLine], MockBatchProblem> {
        var lines: [MockBatchLine] = []
        var seen = Set<String>()
        var number = 0
        for slice in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            number += 1
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
            let value: JSONValue
            do { value = try Array(slice).withUnsafeBytes { try JSONParser.parse($0) } } catch {
                return .failure(MockBatchProblem(code: "invalid_json_line", message: "line \(number) is not valid JSON", line: number))
            }
            guard let id = value["custom_id"]?.stringValue, !id.isEmpty else {
                return .failure(MockBatchProblem(code: "missing_required_parameter", message: "line \(number) has no custom_id", line: number))
            }
            guard value["method"]?.stringValue == "POST", value["url"]?.stringValue == endpoint,
                  let body = value["body"], case .object = body else {
                return .failure(MockBatchProblem(code: "invalid_request", message: "line \(number) must POST a body object to \(endpoint)", line: number))
            }
            guard seen.insert(id).inserted else {
                return .failure(MockBatchProblem(code: "duplicate_custom_id", message: "custom_id \(id) appears more than once", line: number))
            }
            lines.append(MockBatchLine(customID: id, body: JSONWriter.serialize(body)))
        }
        if lines.isEmpty { return .failure(MockBatchProblem(code: "empty_file", message: "the input file holds no request", line: nil)) }
        return .success(lines)
    }
}

struct MockBatchProblem: Error {
    var code: String
    var message: String
    var line: Int?
}
