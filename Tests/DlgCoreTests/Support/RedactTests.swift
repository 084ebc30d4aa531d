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

    /// Regression: "sk-" was matched inside words ("task-based" became "ta[redacted]"); and words and
    /// paths that start like a key are not keys (issue 23: stderr goes through Redact, and names hf_export/).
    @Test func wordsContainingSkDashAreUntouched() {
        for s in ["risk-free ask-me", "a task-based plan", "desk-top", "outputs/hf_export/data.jsonl", "sk-learn", "hf_home"] {
            #expect(Redact.text(s) == s, "\(s)")
        }
    }
}

/// Issue 23: secrets the tools were given are masked by value, whatever they look like; DSN passwords in
/// key=value form too. Each value is random, so tests running at once never mask each other's text.
@Suite struct RedactByValueTests {
    static func randomKey(_ prefix: String, _ n: Int = 40) -> String {
        let chars = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return prefix + String((0..<n).map { _ in chars.randomElement()! })
    }

    /// The finding: a `gsk_` key echoed by a server was kept, 12 times in one report.
    @Test func aRegisteredKeyIsMaskedWhereverItAppears() {
        let key = Self.randomKey("gsk_")
        let body = #"{"error":{"message":"Invalid API Key: \#(key)","key":"\#(key)"}}"#
        #expect(Redact.text(body).contains(key), "not registered yet: kept (prefix rules do not know gsk_)")
        Redact.register(key)
        let masked = Redact.text(body)
        #expect(!masked.contains(key) && masked.contains("Invalid API Key: [redacted]"), "\(masked)")
        #expect(!String(decoding: Redact.values(Array(body.utf8)), as: UTF8.self).contains(key))
        #expect(Redact.containsSecret(Array("x\(key)y".utf8)))
        #expect(!Redact.containsSecret(Array(String(key.dropLast()).utf8)), "a part of it is not the key")
    }

    @Test func shortValuesAndPlaceholdersAreNotRegistered() {
        let before = Redact.knownCount
        for v in ["", "EMPTY", "abc1234", "${DLG_SECRET_0}", "none", "   "] { Redact.register(v) }
        #expect(Redact.knownCount == before)
        #expect(Redact.text("EMPTY key, abc1234") == "EMPTY key, abc1234")
    }

    @Test func aValueWithQuotesIsMaskedInJSONTextToo() {
        let key = Self.randomKey("q\"\\", 20)
        Redact.register(key)
        var json: [UInt8] = []
        JSON.obj(["detail": .string("refused \(key)")]).write(into: &json)
        let masked = String(decoding: Redact.values(json), as: UTF8.self)
        #expect(masked == #"{"detail":"refused [redacted]"}"#, "\(masked)")
    }

    @Test func dataLinesKeepKeyShapedWordsButNotKnownValues() {
        let key = Self.randomKey("zz", 30)
        Redact.register(key)
        let line = "use sk-learn with a Bearer token; key \(key)"
        #expect(Redact.values(line) == "use sk-learn with a Bearer token; key [redacted]")
        #expect(Redact.text(line) == "use sk-learn with a [redacted] key [redacted]")
    }

    /// The finding: `dlg-cluster status` printed `host=... password=...` as is.
    @Test(arguments: [
        ("host=10.0.0.5 port=5432 user=dlg password=s3cretPW dbname=dlg", "host=10.0.0.5 port=5432 user=dlg password=*** dbname=dlg"),
        ("password = 'two words\\' pw' host=h", "password = *** host=h"),
        ("host=h sslpassword=abc password=x\\ y", "host=h sslpassword=*** password=***"),
        ("postgresql://dlg@h/db?sslmode=require&password=pw9", "postgresql://dlg@h/db?sslmode=require&password=***"),
        ("postgresql://dlg:p%40ss@h:5432/db", "postgresql://dlg:***@h:5432/db"),
        ("my_password=x and passwords are fine", "my_password=x and passwords are fine"),
    ])
    func keyValueDSNPasswordsAreMasked(dsn: String, shown: String) {
        #expect(Redact.text(dsn) == shown)
    }

    @Test func dsnPasswordsAreReadAsLibpqReadsThem() {
        #expect(RedactScan.dsnPasswords("host=h password='a b\\'c' user=u") == ["a b'c"])
        #expect(RedactScan.dsnPasswords("postgresql://u:p%40ss@h/db") == ["p%40ss", "p@ss"])
        #expect(RedactScan.dsnPasswords("host=h user=u").isEmpty)
        let pw = Self.randomKey("pw-", 12)
        Redact.register(dsn: "host=h password=\(pw)")
        #expect(Redact.values("a log line naming \(pw)") == "a log line naming [redacted]")
    }

    /// On the logging path: a line with nothing to mask costs one table lookup a byte, no allocation.
    @Test func aLineCostsLittle() {
        for _ in 0..<20 { Redact.register(Self.randomKey("k", 32)) }
        let line = "2026-01-01 10:00:00,123 | WARNING | dlg.llm | agent=kb_responder endpoint=default status=500 ms=12 http_attempt=1 body={\"error\":{\"message\":\"The server had an error while processing your request.\"}}"
        let n = 20_000
        let start = DispatchTime.now().uptimeNanoseconds
        var total = 0
        for _ in 0..<n { total &+= Redact.text(line).utf8.count }
        let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
        print("redact: \(Int(ns)) ns a line of \(line.utf8.count) bytes (\(Redact.knownCount) secret forms)")
        #expect(total == n * line.utf8.count)
        #expect(ns < 200_000, "a debug build too")
    }
}
