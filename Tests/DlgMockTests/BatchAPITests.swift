// dlg-mock's /v1/files and /v1/batches: a batch's lines get the replies the same requests get sent
// directly; error lines, expired lines, whole failures and cancel; stats count both kinds apart.

@testable import DlgMock
import Foundation
import Testing

@Suite struct BatchAPITests {
    static func upload(_ client: MockClient, _ jsonl: String) async throws -> String {
        let boundary = "b0undary"
        let body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\n\r\n\(jsonl)\r\n--\(boundary)--\r\n"
        let reply = try await client.send("POST", "/v1/files", body: Data(body.utf8))
        #expect(reply.status == 200, "\(String(decoding: reply.data, as: UTF8.self))")
        return try #require(try reply.json()["id"] as? String)
    }

    static func lines(_ requests: [(String, [String: Any])]) throws -> String {
        try requests.map { id, body in
            String(decoding: try JSONSerialization.data(withJSONObject: ["custom_id": id, "method": "POST", "url": "/v1/chat/completions", "body": body]), as: UTF8.self)
        }.joined(separator: "\n")
    }

    static func create(_ client: MockClient, _ file: String) async throws -> [String: Any] {
        try await client.post("/v1/batches", ["input_file_id": file, "endpoint": "/v1/chat/completions", "completion_window": "24h"]).json()
    }

    static func content(_ client: MockClient, _ file: String?) async throws -> [[String: Any]] {
        guard let file else { return [] }
        let data = try await client.get("/v1/files/\(file)/content").data
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func aBatchAnswersAsTheDirectEndpointDoes() async throws {
        try await withMockServer { client, _ in
            let requests = [("one", generatorRequest(snippet: "Refunds take five days.")), ("two", generatorRequest(snippet: "Plans renew monthly."))]
            let file = try await Self.upload(client, try Self.lines(requests))
            let batch = try await Self.create(client, file)
            let id = try #require(batch["id"] as? String)
            let done = try await client.get("/v1/batches/\(id)").json()
            #expect(done["status"] as? String == "completed")
            #expect((done["request_counts"] as? [String: Any])?["completed"] as? Int == 2)
            let output = try await Self.content(client, done["output_file_id"] as? String)
            #expect(output.compactMap { $0["custom_id"] as? String }.sorted() == ["one", "two"])
            for line in output {
                let response = try #require(line["response"] as? [String: Any])
                let batched = try #require(response["body"] as? [String: Any])
                let request = try #require(requests.first { $0.0 == line["custom_id"] as? String }?.1)
                let direct = try await client.chat(request).json()
                #expect((batched["choices"] as? [[String: Any]])?.first?["message"] as? NSDictionary
                        == (direct["choices"] as? [[String: Any]])?.first?["message"] as? NSDictionary)
            }
            let stats = try await client.get("/stats").json()
            #expect(stats["chat_completions"] as? Int == 2, "the two direct requests only")
            let batches = try #require(stats["batches"] as? [String: Any])
            #expect(batches["chat_completions"] as? Int == 2 && batches["batches_created"] as? Int == 1)
        }
    }

    @Test func errorLinesExpiredLinesWholeFailuresAndCancel() async throws {
        let options = mockOptions { $0.batchErrorRate = 1; $0.batchFailures = 1 }
        try await withMockServer(options) { client, _ in
            let file = try await Self.upload(client, try Self.lines([("a", generatorRequest(snippet: "x"))]))
            let first = try await Self.create(client, file)
            let failed = try await client.get("/v1/batches/\(first["id"] as! String)").json()
            #expect(failed["status"] as? String == "failed" && failed["errors"] is [String: Any])
            let second = try await Self.create(client, file)
            let done = try await client.get("/v1/batches/\(second["id"] as! String)").json()
            #expect(done["status"] as? String == "completed" && done["output_file_id"] is NSNull)
            let errors = try await Self.content(client, done["error_file_id"] as? String)
            #expect((errors.first?["response"] as? [String: Any])?["status_code"] as? Int == 500)
            let stats = try await client.get("/stats").json()
            #expect((stats["batches"] as? [String: Any])?["custom_ids_resubmitted"] as? Int == 1)
        }
        try await withMockServer(mockOptions { $0.batchExpireRate = 1 }) { client, _ in
            let file = try await Self.upload(client, try Self.lines([("a", generatorRequest(snippet: "x"))]))
            let batch = try await Self.create(client, file)
            let done = try await client.get("/v1/batches/\(batch["id"] as! String)").json()
            #expect(done["status"] as? String == "expired")
            let errors = try await Self.content(client, done["error_file_id"] as? String)
            #expect((errors.first?["error"] as? [String: Any])?["code"] as? String == "batch_expired")
        }
        try await withMockServer(mockOptions { $0.batchDelayMs = 600_000 }) { client, _ in
            let file = try await Self.upload(client, try Self.lines([("a", generatorRequest(snippet: "x"))]))
            let batch = try await Self.create(client, file)
            let id = batch["id"] as! String
            #expect(try await client.get("/v1/batches/\(id)").json()["status"] as? String == "in_progress")
            let cancelled = try await client.send("POST", "/v1/batches/\(id)/cancel").json()
            #expect(cancelled["status"] as? String == "cancelled")
            #expect(try await client.get("/v1/batches/nope").status == 404)
            #expect(try await client.post("/v1/batches", ["input_file_id": "nope", "endpoint": "/v1/chat/completions", "completion_window": "24h"]).status == 404)
        }
    }
}
