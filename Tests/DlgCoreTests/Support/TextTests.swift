// The byte-level text helpers give the same answers as the Foundation and Character-level code they
// replace, on hand-picked and random text.

@testable import DlgCore
import Foundation
import Testing

@Suite struct TextTests {
    static let samples: [String] = [
        "", " ", "\t\n", "How do I\tturn the   compost?", "  Quelle est la durée ?  ", "\u{00A0}Ça va\u{2003}",
        "ÉTÉ  Été", "line\r\nbreak", "\u{0085}next line\u{0085}", "日本語 の テキスト", "a", "A B",
        "<the question, in en>", "x <ab> y", "x <abc> y", "<\n abc>", String(repeating: "z", count: 81),
        "<" + String(repeating: "z", count: 80) + ">", "<" + String(repeating: "z", count: 81) + ">",
        "why?", "¿Por qué?", "متى؟", "何？", "tab\u{0B}vt\u{0C}ff", "\u{1C}sep\u{1F}", "it's the user's",
    ]

    /// Random strings over a small alphabet mixing ASCII, whitespace of every kind and non-ASCII.
    static func randomStrings(_ n: Int) -> [String] {
        let alphabet: [Character] = ["a", "B", "z", " ", "\t", "\n", "\r\n", "\u{00A0}", "\u{2028}", "é", "Ö", "ß",
                                     "?", "<", ">", "'", "1", ",", ".", "日", "\u{0085}"]
        var rng = SeededRandom("text-tests")
        return (0..<n).map { _ in
            String((0..<Int(rng.next() % 24)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }
    }

    @Test func trimmedMatchesFoundation() {
        for s in Self.samples + Self.randomStrings(500) {
            #expect(Text.trimmed(s) == s.trimmingCharacters(in: .whitespacesAndNewlines), "\(s.debugDescription)")
        }
    }

    @Test func normalizedMatchesTheCharacterRule() {
        for s in Self.samples + Self.randomStrings(500) {
            let reference = s.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
            #expect(Text.normalized(s) == reference, "\(s.debugDescription)")
        }
    }

    @Test func wordsMatchTheCharacterRule() {
        for s in Self.samples + Self.randomStrings(500) {
            let reference = s.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init)
            #expect(ReplyValidation.words(s) == reference, "\(s.debugDescription)")
        }
    }

    @Test func containsMatchesFoundation() {
        let texts = Self.samples + Self.randomStrings(200)
        for h in texts.prefix(60) {
            for n in ["", "a", "?", " ", "é", "compost", "日", "zz", h] {
                #expect(Text.contains(h, n) == (n.isEmpty || h.utf8.count >= n.utf8.count && Array(h.utf8).indices.contains { i in
                    Array(h.utf8)[i...].starts(with: Array(n.utf8))
                }), "\(h.debugDescription) ∋ \(n.debugDescription)")
            }
        }
        #expect(Text.contains("the compost heap", "post h"))
        #expect(!Text.contains("the compost heap", "posth"))
        #expect(!Text.contains("ab", "abc"))
    }

    @Test func placeholderMatchesTheRegex() {
        for s in Self.samples + Self.randomStrings(500) {
            let regex = s.range(of: #"<[^<>\n]{3,80}>"#, options: .regularExpression) != nil
            #expect(Text.hasPlaceholder(s) == regex, "\(s.debugDescription)")
        }
    }
}
