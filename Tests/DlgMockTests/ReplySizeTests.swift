// --reply-bytes: kb_responder replies grow to about the size asked for, with more evidence items, and stay
// valid replies (the benchmark of big replies depends on both).

@testable import DlgMock
import Foundation
import Testing

@Suite struct ReplySizeTests {
    static func kbReply(_ replyBytes: Int) throws -> [String: Any] {
        var options = MockOptions()
        options.replyBytes = replyBytes
        let engine = MockEngine(options: options)
        let body = try JSONSerialization.data(withJSONObject: judgeRequest("kb_responder"))
        let outcome = body.withUnsafeBytes { engine.handle(method: "POST", path: "/v1/chat/completions", body: $0) }
        guard case .respond(let response, _) = outcome else { throw HarnessFailure("not a response") }
        let reply = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
        let message = ((reply["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]) ?? [:]
        let content = message["content"] as? String ?? ""
        return try JSONSerialization.jsonObject(with: Data(content.utf8)) as? [String: Any] ?? [:]
    }

    @Test func repliesGrowToTheSizeAskedAndStayValid() throws {
        let usual = try Self.kbReply(0)
        let big = try Self.kbReply(4096)
        let usualSize = try JSONSerialization.data(withJSONObject: usual).count
        let bigSize = try JSONSerialization.data(withJSONObject: big).count
        #expect(usualSize < 2000, "usual reply \(usualSize) bytes")
        #expect(bigSize >= 3500 && bigSize <= 6000, "4 KB reply is \(bigSize) bytes")
        #expect((big["assistant_message"] as? String)?.isEmpty == false)
        let evidence = (big["reasoning_trace"] as? [String: Any])?["evidence"] as? [[String: Any]] ?? []
        #expect(evidence.count > 5 && evidence.allSatisfy { ($0["id"] as? String)?.hasPrefix("E") == true })
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
