// The cheap language check that drops replies in the wrong language.

@testable import DlgCore
import Foundation
import Testing

@Suite struct LanguageCheckTests {
    @Test func clearMismatchesAreCaughtAndShortTextPasses() {
        #expect(LanguageCheck.isWrong("Das hängt von Ihrer Konfiguration ab; bitte prüfen Sie die Dokumentation.", language: "en"))
        #expect(LanguageCheck.isWrong("Wie kann ich das in meinem Projekt am besten einrichten?", language: "fr"))
        #expect(!LanguageCheck.isWrong("Comment fonctionne la chaîne avec le lubrifiant pour une équipe de 3 personnes ?", language: "fr"))
        #expect(!LanguageCheck.isWrong("How often should I oil the chain of my bike?", language: "en"))
        #expect(!LanguageCheck.isWrong("Chain?", language: "fr"))
        #expect(LanguageCheck.isWrong("How often should I oil the chain of my bike?", language: "ar"))
        #expect(!LanguageCheck.isWrong("كم مرة يجب أن أزيت سلسلة دراجتي؟", language: "ar"))
        #expect(!LanguageCheck.isWrong("anything at all here", language: "sw"))
    }

    /// The check as first written (each word looked up in every language's set), against the one-table
    /// version, on random mixes of every list's stopwords and other words.
    @Test func theOneTableCheckAgreesWithAPassPerLanguage() {
        func reference(_ text: String, _ lang: String) -> Bool {
            guard let own = LanguageCheck.stopwords[lang] else { return false }
            let words = Text.words(text, ascii: { Text.isASCIILetter($0) || $0 == UInt8(ascii: "'") },
                                   unicode: { $0.isLetter || $0 == "'" })
            guard words.count >= 5 else { return false }
            let ownHits = words.filter { own.contains($0) }.count
            var best = 0
            for (code, set) in LanguageCheck.stopwords where code != lang { best = max(best, words.filter { set.contains($0) }.count) }
            return best >= 3 && ownHits * 3 < best
        }
        var rng = SeededRandom(seed: 13)
        let pool = LanguageCheck.stopwords.values.flatMap { $0 }.sorted() + ["chain", "Kette", "vélo", "bike", "x1", "l'huile"]
        var wrong = 0
        for _ in 0..<600 {
            let text = (0..<Int.random(in: 3...40, using: &rng)).map { _ in
                let w = pool.randomElement(using: &rng)!
                return Bool.random(using: &rng) ? w.capitalized : w
            }.joined(separator: Bool.random(using: &rng) ? " " : ", ")
            for lang in LanguageCheck.codes {
                let got = LanguageCheck.isWrong(text, language: lang)
                #expect(got == reference(text, lang), "\(lang): \(text)")
                if got { wrong += 1 }
            }
        }
        #expect(wrong > 100, "the mixes should make some texts clearly another language (\(wrong))")
    }
}
