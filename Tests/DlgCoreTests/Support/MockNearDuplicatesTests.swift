// dlg-mock's near-duplicate questions (MockOptions.nearDuplicateRate) measured with DlgCore's own
// NearDuplicates: the variants are near (Jaccard >= 0.8), not exact, duplicates of earlier questions,
// in English, French and Arabic, and reworded in more than one way.

@testable import DlgCore
import DlgMock
import Foundation
import Testing

@Suite struct MockNearDuplicatesTests {
    static let snippetWords = ["printer", "tray", "paper", "toner", "drum", "fuser", "roller", "scanner", "network", "driver",
                               "firmware", "queue", "spool", "margin", "duplex", "stapler"]

    /// The qa_generator's question for a snippet, in `language`.
    static func question(_ base: String, snippet: Int, language: String) async throws -> String {
        let body = JSON.obj(["model": "m", "messages": .array([
            .obj(["role": "system", "content": .string("agent: qa_generator. Write in language \"\(language)\".")]),
            .obj(["role": "user", "content": .string("The \(snippetWords[snippet % 16]) and the \(snippetWords[(snippet * 7 + 3) % 16]) need service \(snippet) in building \(snippet * 3).")]),
        ])])
        let outcome = await CurlTransport.shared.perform(url: base + "/chat/completions", method: "POST",
                                                         headers: ["Content-Type: application/json"],
                                                         body: Array(body.serialized().utf8), timeout: 10)
        guard case .response(let response) = outcome, response.status == 200 else { throw DlgError(.software, "no reply: \(outcome)") }
        let content = try JSONCodec.parse(response.body)["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue ?? ""
        return try JSONCodec.parse(content)["user_message"]?.stringValue ?? ""
    }

    /// Each request sent to a mock with the rate and to one without (the same seed): where the replies
    /// differ, the first is a variant of a question given before (not itself a variant): near it, and not
    /// the same question normalized. (Two variants may be the same rewording of one question.)
    @Test(arguments: ["en", "fr", "ar"])
    func variantsAreNearNotExactDuplicates(language: String) async throws {
        try await withInProcessMock(mockOptions { $0.seed = 9 }) { _, plain in
            try await withInProcessMock(mockOptions { $0.nearDuplicateRate = 0.5; $0.seed = 9 }) { _, varying in
                var given: [String] = []
                var variants = 0, wordsAdded = 0, sameWords = 0
                for snippet in 0..<60 {
                    let q = try await Self.question(varying, snippet: snippet, language: language)
                    guard try await q != Self.question(plain, snippet: snippet, language: language) else {
                        given.append(q)
                        continue
                    }
                    variants += 1
                    let set = NearDuplicates.shingles(q)
                    let similarity = given.map { NearDuplicates.jaccard(set, NearDuplicates.shingles($0)) }.max() ?? 0
                    #expect(similarity >= 0.8, "\(q): \(similarity) at most to an earlier question")
                    #expect(!given.map(Text.normalized).contains(Text.normalized(q)), "an exact duplicate: \(q)")
                    if similarity < 1 { wordsAdded += 1 } else { sameWords += 1 }
                }
                // About half of 59 requests; with words added and with the same words reworded.
                #expect(variants >= 15 && wordsAdded > 0 && sameWords > 0, "variants \(variants), words added \(wordsAdded), same words \(sameWords)")
            }
        }
    }

    @Test func withoutTheRateNoQuestionRepeatsAnother() async throws {
        try await withInProcessMock { _, base in
            var sets: [Set<UInt64>] = []
            for snippet in 0..<30 { sets.append(NearDuplicates.shingles(try await Self.question(base, snippet: snippet, language: "en"))) }
            for i in sets.indices { for j in sets.indices where j > i { #expect(NearDuplicates.jaccard(sets[i], sets[j]) < 0.8) } }
        }
    }
}
