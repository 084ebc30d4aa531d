// No key, token or DSN password in anything dlgforge writes.

@testable import DlgCore
import Foundation
import Testing

@Suite struct RedactTests {
    @Test func keysAndTokensAreReplaced() {
        #expect(Redact.text("key sk-abc123XYZ here") == "key [redacted] here")
        #expect(Redact.text(#"{"api_key":"sk-proj-9f8e7d"}"#) == #"{"api_key":"[redacted]"}"#, "stops at the quote")
        #expect(Redact.text("hf_AbCdEf and sk-1 and sk-2") == "[redacted] and [redacted] and [redacted]")
        #expect(Redact.text("Authorization: Bearer tok.en-123 next") == "Authorization: [redacted] next")
    }

    @Test func aDSNKeepsItsUserButNotItsPassword() {
        #expect(Redact.text("postgresql://dlg:s3cr3t@127.0.0.1:5432/dlg") == "postgresql://dlg:***@127.0.0.1:5432/dlg")
        #expect(Redact.text("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1", "a port is not a password")
    }

    @Test func ordinaryTextIsUntouched() {
        for s in ["", "HTTP 500: the server had an error", "http://127.0.0.1:8080/v1 status=429"] {
            #expect(Redact.text(s) == s, "\(s)")
        }
    }

    /// Regression: "sk-" was matched inside words ("task-based" became "ta[redacted]").
    @Test func wordsContainingSkDashAreUntouched() {
        for s in ["risk-free ask-me", "a task-based plan", "desk-top"] {
            #expect(Redact.text(s) == s, "\(s)")
        }
    }
}
