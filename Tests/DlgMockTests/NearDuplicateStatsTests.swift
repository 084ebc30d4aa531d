// /stats's near_duplicate_variants against the variants the test counts itself: each request goes to a
// mock with --near-duplicate-rate and to one without (the same seed, so the same reply otherwise);
// where the two questions differ, the first mock sent a variant.

import DlgMock
import Foundation
import Testing

@Suite struct NearDuplicateStatsTests {
    static func question(_ client: MockClient, _ request: [String: Any]) async throws -> String {
        let reply = try await client.chat(request)
        return try #require(try reply.contentJSON()["user_message"] as? String, "no question: \(reply.text)")
    }

    @Test func theCounterIsTheNumberOfVariantsSent() async throws {
        try await withMockServer(mockOptions { $0.seed = 5 }) { plain, _ in
            try await withMockServer(mockOptions { $0.seed = 5; $0.nearDuplicateRate = 0.4 }) { varying, server in
                let requests = 40
                var variants = 0
                for i in 0..<requests {
                    let request = generatorRequest(snippet: "The toner drawer \(i) jams after \(i * 3) pages in tray \(i % 4) of floor \(i * 7).")
                    let sent = try await Self.question(varying, request)
                    if try await sent != Self.question(plain, request) { variants += 1 }
                }
                // Some replies varied and some not, so the count is not met by a counter stuck at 0 or at every request.
                try #require(variants > 0 && variants < requests, "\(variants) variants in \(requests) replies")
                let stats = try await varying.get("/stats").json()
                #expect(stats["near_duplicate_variants"] as? Int == variants, "\(stats)")
                #expect(server.stats.nearDuplicateVariants == variants)

                let reset = try await varying.post("/stats/reset", [:])
                #expect(reset.status == 200)
                #expect(try await varying.get("/stats").json()["near_duplicate_variants"] as? Int == 0)
                // Without the rate the document is as before: no such key.
                #expect(try await plain.get("/stats").json()["near_duplicate_variants"] == nil)
            }
        }
    }
}
