// Issue 23: a reply has a cap (the transfer stops there, holding no more than the cap) and a transfer
// speaks http and https only. Against the in-process mock (`hugeReplyBytes`, `echoKeyRate`).

@testable import DlgCore
import DlgMock
import Foundation
import Testing

@Suite struct CurlTransportLimitsTests {
    /// The finding: two replies of 400 MB took the process to 1.76 GB. Counted in the transport itself:
    /// what it held when it stopped.
    @Test func aReplyPastTheCapIsStoppedThereAndHoldsNoMore() async throws {
        try await withInProcessMock(mockOptions { $0.hugeReplyBytes = 50_000_000 }) { _, base in
            let cap = 1 << 20
            let outcome = await CurlTransport.shared.perform(url: base + "/chat/completions", method: "POST", headers: [],
                                                             body: Array("{}".utf8), timeout: 60, maxResponseBytes: cap)
            guard case .tooLarge(let limit, let buffered) = outcome else {
                Issue.record("not stopped at the cap: \(outcome)")
                return
            }
            #expect(limit == cap && buffered <= cap, "held \(buffered) bytes for a cap of \(cap)")
        }
    }

    @Test func theClientFailsTheCallForGoodWithTheReason() async throws {
        try await withInProcessMock(mockOptions { $0.hugeReplyBytes = 5_000_000 }) { server, base in
            var layer = LLMLayerSettings()
            layer.maxResponseBytes = 100_000
            layer.cache.enabled = false
            let client = LLMClient(logsDir: nil, layer: layer)
            do throws(LLMFailure) {
                _ = try await client.chat(agent: testAgent(baseURL: base), messages: [.obj(["role": "user", "content": "hi"])], format: .text)
                Issue.record("a reply past the cap was accepted")
            } catch {
                #expect(error.kind == .rejected, "\(error)")
                #expect(error.message.contains("larger than llm.max_response_bytes (100000 bytes)"), "\(error.message)")
            }
            #expect(server.stats.chatCompletions == 1, "not retried")
        }
    }

    /// The finding: no transfer restricted protocols, so a `file://` URL a server named was read.
    @Test(arguments: ["file:///etc/hostname", "gopher://127.0.0.1:1/", "dict://127.0.0.1:1/x"])
    func onlyHTTPAndHTTPSAreSpoken(url: String) async {
        let outcome = await CurlTransport.shared.perform(url: url, method: "GET", headers: [], body: nil, timeout: 5)
        guard case .failed(let message, _) = outcome else {
            Issue.record("\(url) was fetched: \(outcome)")
            return
        }
        #expect(message.contains("unsupported protocol") || message.contains("protocol"), "\(message)")
    }

    /// The finding: a server's error body that repeats the key was logged as is.
    @Test func anEchoedKeyIsMaskedInTheLogAndTheError() async throws {
        let key = "gsk_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        Redact.register(key)
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("dlg-echo-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: logs) }
        try await withInProcessMock(mockOptions { $0.echoKeyRate = 1; $0.faults.serverError = 1 }) { _, base in
            var layer = LLMLayerSettings()
            layer.cache.enabled = false
            let client = LLMClient(logsDir: logs, layer: layer)
            do throws(LLMFailure) {
                _ = try await client.chat(agent: testAgent(baseURL: base, apiKey: key, maxRetries: 1), messages: [.obj(["role": "user", "content": "hi"])], format: .text)
                Issue.record("a 500 was accepted")
            } catch {
                #expect(!error.message.contains(key), "\(error.message)")
            }
        }
        let log = (try? String(contentsOfFile: logs + "/llm.log", encoding: .utf8)) ?? ""
        #expect(log.contains("Incorrect API key provided: [redacted]") && !log.contains(key), "\(log)")
    }
}
