// llm.batch_api and llm.price.batch_discount: defaults from OpenAI's limits, DLGFORGE_BATCH_API, the
// run's state folder from dlg-run, and bad values that stop with the key's path.

import Foundation
import Testing
@testable import DlgCore

@Suite struct BatchAPISettingsTests {
    @Test func offByDefaultWithOpenAIsLimitsAndTheVariableTurnsItOn() throws {
        let f = try ConfigFixture("llm:\n  base_url: http://127.0.0.1:9/v1\n")
        defer { f.cleanup() }
        let s = try f.load()
        let b = s.llmLayer.batch
        #expect(!b.enabled && b.maxRequestsPerFile == 50_000 && b.maxBytesPerFile == 200_000_000)
        #expect(b.flushSeconds == 30 && b.pollSeconds == 60 && !b.retryDirect)
        #expect(b.stateDir.hasSuffix("outputs/batches"), "\(b.stateDir)")
        #expect(s.pricing.batchDiscount == 0.5)
        let on = try f.load(["DLGFORGE_BATCH_API": "1", "DLGFORGE_BATCH_STATE": "/tmp/run/batches"])
        #expect(on.llmLayer.batch.enabled && on.llmLayer.batch.stateDir == "/tmp/run/batches")
    }

    @Test func keysAreReadAndKnown() throws {
        let f = try ConfigFixture("""
            llm:
              base_url: http://127.0.0.1:9/v1
              batch_api: {enabled: true, flush_seconds: 5, poll_seconds: 2.5, max_requests_per_file: 100, max_bytes_per_file: 4096, retry_direct: true}
              price: {prompt_per_million: 1, completion_per_million: 2, batch_discount: 0.4}

            """)
        defer { f.cleanup() }
        let s = try f.load()
        let b = s.llmLayer.batch
        #expect(b.enabled && b.flushSeconds == 5 && b.pollSeconds == 2.5 && b.maxRequestsPerFile == 100)
        #expect(b.maxBytesPerFile == 4096 && b.retryDirect)
        #expect(s.pricing.batchDiscount == 0.4)
        var u = TokenUsage()
        u.promptTokens = 1_000_000
        #expect(abs(s.pricing.batchCost(["qa_generator": u]) - 0.4) < 1e-9)
        #expect(s.tree.unknownKeys.isEmpty, "\(s.tree.unknownKeys)")
    }

    @Test func badValuesNameTheKey() throws {
        for (yaml, key) in [("batch_api: {max_requests_per_file: 60000}", "llm.batch_api.max_requests_per_file"),
                            ("batch_api: {poll_seconds: 0}", "llm.batch_api.poll_seconds"),
                            ("batch_api: yes", "llm.batch_api"),
                            ("price: {batch_discount: 2}", "llm.price.batch_discount")] {
            let f = try ConfigFixture("llm:\n  base_url: http://127.0.0.1:9/v1\n  \(yaml)\n")
            defer { f.cleanup() }
            do {
                _ = try f.load()
                Issue.record("\(yaml) was accepted")
            } catch let e as DlgError {
                #expect(e.code == .config && e.message.contains(key), "\(e.message)")
            }
        }
    }
}
