// Replies pinned byte for byte: a corpus of real requests (captured from a `dlg-run` against the mock:
// qa_generator, kb_responder with and without tool results, qa_judge, conversation_judge, embeddings, in
// en, fr and ar; plus hand-made edge cases) goes through `MockEngine` under several option sets, and every
// outcome (kind, status, headers, delay, body) and the final `/stats` must match what the engine gave when
// the golden file was written. Order-dependent draws (faults, latency) are pinned by the request order.
//
// The golden file was captured from the engine before its CPU work (issue 13); to rewrite it after an
// intended change of replies: DLG_MOCK_GOLDEN_WRITE=1 swift test --filter GoldenReplyTests.
// DLG_MOCK_GOLDEN_DUMP=<file> writes every reply in full, to diff two builds' replies.

@testable import DlgMock
import Foundation
import Testing

@Suite struct GoldenReplyTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    struct CapturedRequest: Decodable {
        var method: String
        var path: String
        var body: String
    }

    static func corpus() throws -> [CapturedRequest] {
        let text = try String(contentsOf: folder.appendingPathComponent("requests.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(CapturedRequest.self, from: Data($0.utf8)) }
    }

    /// The option sets the corpus is replayed under, with how many passes and the API key sent (if any).
    static let cases: [(name: String, passes: Int, options: MockOptions, authorization: @Sendable (Int) -> String?)] = [
        ("bench", 1, mockOptions { $0.replyBytes = 4096; $0.latencyMs = 200 }, { _ in nil }),
        ("defaults", 1, MockOptions(), { _ in nil }),
        ("faults", 4, mockOptions {
            $0.seed = 42
            $0.duplicateRate = 0.3
            $0.contentParts = true
            $0.objectArguments = true
            $0.retryAfterSeconds = 3
            $0.latencyMs = 100
            $0.latencyJitterMs = 50
            $0.latencyDistribution = .uniform
            $0.faults.rateLimited = 0.05
            $0.faults.serverError = 0.05
            $0.faults.timeout = 0.03
            $0.faults.drop = 0.03
            $0.faults.malformed = 0.08
            $0.faults.serviceUnavailable = 0.03
            $0.faults.resetInBody = 0.04
            $0.faults.shortBody = 0.04
            $0.faults.truncated = 0.2
            $0.faults.missingFields = 0.15
            $0.faults.wrongTypes = 0.15
            $0.faults.empty = 0.1
            $0.faults.echo = 0.3
            $0.faults.wrongLanguage = 0.2
        }, { _ in nil }),
        ("switches", 2, mockOptions {
            $0.seed = 7
            $0.model = "served-model"
            $0.latencyMs = 30
            $0.latencyDistribution = .exponential
            $0.toolCalls = false
            $0.jsonObjectSupport = false
            $0.seedSupport = false
            $0.replyBytes = 1500
            $0.apiKey = "secret"
            $0.requestLog = true
        }, { $0 % 9 == 4 ? "Bearer wrong" : "Bearer secret" }),
        ("no-schema", 1, mockOptions { $0.jsonSchemaSupport = false; $0.faults.wrongLanguage = 1; $0.faults.echo = 1 }, { _ in nil }),
    ]

    /// FNV-1a 64, written here so that the test does not depend on the code it pins.
    static func fnv(_ bytes: some Sequence<UInt8>) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return String(h, radix: 16)
    }

    /// The body with the `"created":<seconds>` stamp of chat replies replaced by 0.
    static func masked(_ body: [UInt8]) -> [UInt8] {
        let key = Array("\"created\":".utf8)
        guard body.count > key.count else { return body }
        for start in 0...(body.count - key.count) where body[start..<(start + key.count)].elementsEqual(key) {
            var end = start + key.count
            while end < body.count, body[end] >= UInt8(ascii: "0"), body[end] <= UInt8(ascii: "9") { end += 1 }
            return Array(body[..<(start + key.count)]) + [UInt8(ascii: "0")] + Array(body[end...])
        }
        return body
    }

    /// One line per request and one for the final stats, per case; and every reply in full.
    static func replay() throws -> (lines: [String], full: String) {
        let requests = try corpus()
        var lines: [String] = []
        var full = ""
        for c in cases {
            let engine = MockEngine(options: c.options)
            var n = 0
            for pass in 0..<c.passes {
                for (i, request) in requests.enumerated() {
                    let body = Array(request.body.utf8)
                    let outcome = body.withUnsafeBytes {
                        engine.handle(method: request.method, path: request.path[...], body: $0, authorization: c.authorization(n))
                    }
                    n += 1
                    let line: String
                    var reply: [UInt8] = []
                    switch outcome {
                    case .respond(let response, let delay):
                        if response.endsChat { engine.chatEnded() }
                        reply = masked(response.body)
                        let headers = response.headers.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
                        line = "respond \(response.status) delay=\(delay) ends=\(response.endsChat) headers=[\(headers)] bytes=\(reply.count) fnv=\(fnv(reply))"
                    case .partial(let response, let delay, let reset):
                        reply = masked(response.body)
                        let headers = response.headers.map { "\($0.0)=\($0.1)" }.joined(separator: ";")
                        line = "partial \(response.status) delay=\(delay) reset=\(reset) ends=\(response.endsChat) headers=[\(headers)] bytes=\(reply.count) fnv=\(fnv(reply))"
                    case .hang:
                        line = "hang"
                    case .drop(let delay):
                        line = "drop delay=\(delay)"
                    }
                    let label = "\(c.name) \(pass).\(i) \(request.method) \(request.path): "
                    lines.append(label + line)
                    full += label + line + "\n" + String(decoding: reply, as: UTF8.self) + "\n"
                }
            }
            let stats = "\(c.name) stats: \(engine.stats.json)"
            lines.append(stats)
            full += stats + "\n"
        }
        return (lines, full)
    }

    @Test func repliesMatchTheGoldenFile() throws {
        let (lines, full) = try Self.replay()
        if let dump = ProcessInfo.processInfo.environment["DLG_MOCK_GOLDEN_DUMP"] {
            try full.write(toFile: dump, atomically: true, encoding: .utf8)
        }
        let golden = Self.folder.appendingPathComponent("replies.txt")
        if ProcessInfo.processInfo.environment["DLG_MOCK_GOLDEN_WRITE"] == "1" {
            try (lines.joined(separator: "\n") + "\n").write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == expected.count)
        let mismatches = zip(lines, expected).enumerated().filter { $0.element.0 != $0.element.1 }
        for (i, pair) in mismatches.prefix(5) {
            Issue.record("line \(i + 1) differs:\n  got      \(pair.0)\n  expected \(pair.1)")
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(expected.count) replies differ from Golden/replies.txt")
    }

    /// The corpus covers what it claims to: every agent, tool results, embeddings, and the faults.
    @Test func corpusCoversEveryAgentAndFault() throws {
        let faultStats = try #require(try Self.replay().lines.first { $0.hasPrefix("faults stats: ") })
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(faultStats.dropFirst("faults stats: ".count).utf8)) as? [String: Any])
        let agents = try #require(stats["agents"] as? [String: Int])
        for agent in ["qa_generator", "kb_responder", "qa_judge", "conversation_judge"] {
            #expect((agents[agent] ?? 0) >= 8, "too few \(agent) requests in the corpus")
        }
        #expect((stats["embeddings"] as? Int ?? 0) >= 20)
        #expect((stats["tool_calls"] as? Int ?? 0) >= 8)
        let faults = try #require(stats["faults"] as? [String: Int])
        for (name, count) in faults { #expect(count > 0, "fault \(name) never drawn") }
        let requests = try Self.corpus()
        #expect(requests.contains { $0.body.contains("\"role\": \"tool\"") || $0.body.contains("\"role\":\"tool\"") })
    }
}
