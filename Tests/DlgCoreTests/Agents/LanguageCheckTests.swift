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
}
