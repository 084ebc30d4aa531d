import ArgumentParser
import DlgCore
import DlgTestSupport
import Foundation

/// Throws seeded, mutated inputs at the parsers of what others write: JSONL records (RecordCheck), the
/// config loader (YAML, .env-free: Settings.load), and the LLM reply path (a chat completion body through
/// JSON, content parts, the JSON object in the text, and each agent's validation), and the JSON parser
/// against jansson (each input must give both the same value, or be refused by both), and DSN strings
/// through `Redact` (`dsn`: whatever the password, in a URI or key=value, quoted or not, in text or alone,
/// it never survives). A crash ends the
/// process; a hang is stopped by a watchdog (exit 70); every input must be accepted or rejected cleanly.
@main
struct DlgFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlg-fuzz",
        abstract: "Fuzz the record reader, the config loader, the LLM reply parser and the JSON parser (make fuzz; a short run in make test).",
        discussion: "Prints one line per target: inputs, seconds, how many were accepted. Exit 0: no crash, no hang.")

    @Option(help: "Which parsers: records, config, reply, json, dsn (the redaction of DSN passwords), or all.")
    var target = "all"

    @Option(help: "Inputs per target.")
    var inputs = 1_000_000

    @Option(help: "Seed of the input generator (the same seed gives the same inputs).")
    var seed: UInt64 = 1

    func validate() throws {
        guard ["records", "config", "reply", "json", "dsn", "all"].contains(target) else {
            throw ValidationError("\"--target\" must be records, config, reply, json, dsn or all")
        }
        if inputs < 1 { throw ValidationError("\"--inputs\" must be at least 1") }
    }

    func run() throws {
        let wanted = target == "all" ? ["records", "reply", "json", "dsn", "config"] : [target]
        for name in wanted {
            var accepted = 0
            let result: (inputs: Int, seconds: Double)
            switch name {
            case "records":
                result = fuzz(name: name, seed: seed, count: inputs, mutator: Corpus.records) { bytes in
                    if case .success = RecordCheck.parse(bytes) { accepted += 1 }
                }
            case "reply":
                result = fuzz(name: name, seed: seed, count: inputs, mutator: Corpus.replies) { bytes in
                    if Corpus.reply(bytes) { accepted += 1 }
                }
            case "json":
                result = fuzz(name: name, seed: seed, count: inputs, mutator: Corpus.json) { bytes in
                    if Corpus.parsesAsJansson(bytes) { accepted += 1 }
                }
            case "dsn":
                result = fuzz(name: name, seed: seed, count: inputs, mutator: DSNCorpus.mutator) { bytes in
                    accepted += DSNCorpus.check(bytes)
                }
            default:
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dlg-fuzz-\(getpid())")
                try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: dir) }
                let path = dir.appendingPathComponent("config.yaml").path
                // Bounded per input: a config that expands (aliases of aliases) must be refused, not grown.
                result = fuzz(name: name, seed: seed, count: inputs, mutator: Corpus.configs, hangSeconds: 5,
                              maxResidentBytes: 512 << 20) { bytes in
                    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
                    do {
                        _ = try Settings.load(path: path, environment: [:])
                        accepted += 1
                    } catch let error as DlgError {
                        // A rejection must be a config or data error that says where, never a crash.
                        let kinds: [DlgError.Code] = [.config, .data, .io, .noInput]
                        precondition(kinds.contains(error.code), "unexpected error kind \(error.code): \(error.message)")
                    } catch {
                        preconditionFailure("the config loader threw something else than DlgError: \(error)")
                    }
                }
            }
            print("\(name): \(result.inputs) inputs in \(String(format: "%.1f", result.seconds)) s, \(accepted) accepted, no crash, no hang")
        }
    }
}

/// Seeds for each target: real shapes from the project's fixtures and examples, and the tokens that break
/// parsers (escapes, surrogates, huge numbers, deep nesting).
enum Corpus {
    static let tokens = ["\\u0000", "\\ud800", "\\udfff\\ud800", "1e999999", "-0", "9999999999999999999999",
                         "null", "true", "\"", "\\\"", "{}", "[]", "\"turns\":", "\"status\":\"active\"",
                         "${HOME}", "${UNSET:-x}", "&anchor", "*anchor", "!!binary", "---", "? ", "- ", ":\n  ",
                         "\u{FEFF}", "\u{202E}", "؟", "```json", "<|im_end|>"]

    static let records = Mutator(corpus: [
        #"{"conversation_id":"r-en-0000","run_id":"r-en","index":0,"slot":0,"language":"en","target_turns":2,"status":"active","personas":{"user":"u","assistant":"a"},"seed":{"topic":"","question":""},"turns":[],"created_at":"2026-01-01T00:00:00"}"#,
        #"{"conversation_id":"c1","status":"active","target_turns":3,"turns":[{"turn_index":1,"user_message":"How?","assistant_message":"Like so.","qa_judge":{"score":7}}],"pending":{"user_message":"Why?","state":"generated","turn_index":2}}"#,
        #"{"conversation_id":"c2","status":"completed","target_turns":1,"turns":[],"usage":{"prompt_tokens":1,"by_agent":{"qa_judge":{"prompt_tokens":1}}}}"#,
    ], tokens: tokens)

    static let replies = Mutator(corpus: [
        #"{"choices":[{"message":{"role":"assistant","content":"{\"user_message\":\"How do I oil a chain?\",\"intent\":\"clarify\",\"difficulty\":\"easy\",\"grounding_facts\":[{\"fact\":\"x\",\"source_descriptor\":\"y\"}],\"coverage_target\":\"t\",\"notes_for_assistant\":[\"n\"]}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5}}"#,
        #"{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"{\"assistant_message\":\"Clean it, then oil it lightly.\",\"reasoning_trace\":{\"evidence\":[{\"id\":\"E1\"}],\"premises\":[{\"id\":\"P1\",\"note\":true}],\"thinking\":\"step\"}}"}]}}]}"#,
        #"{"choices":[{"message":{"content":"Sure! ```json\n{\"score\": 8, \"reasons\": [\"other\"], \"notes\": \"ok\", \"question_ok\": true, \"answer_ok\": true}\n```"}}]}"#,
        #"{"choices":[{"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"vector_db_search","arguments":{"query":"chain"}}}]}}]}"#,
    ], tokens: tokens)

    static let configs = Mutator(corpus: [
        "run:\n  batch_size: 4\n  total_samples: 2\n  target_languages: [en, fr]\n  min_turns: 1\n  max_turns: 3\nllm:\n  base_url: http://127.0.0.1:9/v1\n  model: m\n  agents:\n    qa_judge:\n      temperature: 0.1\njudge:\n  enabled: true\n  granularity: conversation\nsaving:\n  output_dir: outputs\n",
        "run:\n  turns:\n    mode: range\n    min: 2\n    max: 5\n  data:\n    seeding:\n      question: q\nllm:\n  mode: api\n  agents:\n    user: {model: openai/gpt-5.2}\n    assistant: {provider: gemini, model: gemini/x}\ntools:\n  retrieval:\n    top_k: 3\n",
        "store:\n  backend: postgres\n  postgres:\n    dsn: ${POSTGRES_DSN}\nretrieval:\n  chunk_size: 400\n  overlap: 50\nllm:\n  price: {prompt_per_million: 1, completion_per_million: 2}\n",
        // Alias bombs (YAMLBounds): nine levels of nine aliases, as values and as mapping keys (which
        // Yams hashes whole), and nesting deeper than a config needs.
        HostileYAML.aliasBomb(keys: false), HostileYAML.aliasBomb(keys: true),
        "run:\n  x: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "\n",
    ], tokens: tokens)

    /// Records, replies and the text inside replies, for the JSON parser.
    static let json = Mutator(corpus: records.corpus.map { String(decoding: $0, as: UTF8.self) }
        + replies.corpus.map { String(decoding: $0, as: UTF8.self) }
        + [#" [ 1 , -0 , 0.5e-3 , 1E+2 , -12345678901234567 , 9223372036854775807 , -9223372036854775808 ] "#,
           #"{"a":"\u00e9\ud83d\ude00\/\b\f\t\u0000","a":{"b":[]},"":"\""}"#,
           "\t\r\n{\"k\" : \"v\" }\n"],
        tokens: tokens + ["\\/", "\\b", "\\ud83d\\ude00", "1E+2", "0.5e-3", "9223372036854775808", "1e-400", " ", "\t"])

    /// JSONCodec's parser and jansson alone on the same bytes: the same value (the same members in the
    /// same order, the same number types and bits), or both refuse it. True when both accepted.
    static func parsesAsJansson(_ bytes: [UInt8]) -> Bool {
        let ours = try? JSONCodec.parse(bytes)
        let theirs = bytes.withUnsafeBytes { try? JSONCodec.parseWithJansson($0) }
        func mismatch(_ what: String) -> Never {
            // The input is printed whole, escaped, so that it can be made a test case.
            let text = String(decoding: bytes, as: UTF8.self).debugDescription
            FileHandle.standardError.write(Data("dlg-fuzz: the parser \(what): \(text.prefix(2000))\n".utf8))
            exit(70)
        }
        switch (ours, theirs) {
        case (nil, nil): return false
        case (let a?, let b?):
            if !identicalJSON(a, b) { mismatch("and jansson read \(bytes.count) bytes differently: \(a) vs \(b)") }
            return true
        case (nil, _?): mismatch("refused what jansson accepted")
        case (_?, nil): mismatch("accepted what jansson refused")
        }
    }

    /// The reply path of every agent; true when some agent's validation accepted it.
    static func reply(_ bytes: [UInt8]) -> Bool {
        guard let body = try? JSONCodec.parse(bytes), let message = body["choices"]?.arrayValue?.first?["message"] else {
            return false
        }
        let content = ReplyContent.text(message["content"])
        for call in message["tool_calls"]?.arrayValue ?? [] { _ = AgentCaller.arguments(call) }
        guard let object = ReplyJSON.extract(content) else { return false }
        var ok = false
        if case .success = ReplyValidation.question(object, snippets: ["a passage about chains"], language: "en") { ok = true }
        if case .success = ReplyValidation.answer(object, question: "How do I oil a chain?", language: "en") { ok = true }
        if case .success = ReplyValidation.judge(object, reasons: ["other", "hallucination"]) { ok = true }
        return ok
    }
}


/// The `dsn` target: DSNs with a password made from each input, written every way libpq reads one, alone
/// and inside text, through `Redact.text`; the password must never survive, and `Redact.dsnPasswords`
/// must find it (what `register(dsn:)` masks by value). Mutated DSNs go through both too (no crash, no hang).
enum DSNCorpus {
    static let mutator = Mutator(corpus: [
        "postgresql://dlg:s3cret@127.0.0.1:5432/dlgforge",
        "postgres://u:p%40ss%2Fw@[::1]:5432/db?sslmode=require&password=x",
        "host=10.0.0.5 port=5432 user=dlg password=s3cret dbname=dlg sslmode=require",
        "password = 'a b\\' c' host=h",
        "dsn: host=h password=pw\\ x user=u; then postgresql://a:b@c/d",
    ], tokens: ["password=", "password = '", "://", "@", ":", "'", "\\", "%", "?password=", "&", " ", "sslpassword="])

    /// Checks the structured forms for one input; returns how many were checked.
    static func check(_ bytes: [UInt8]) -> Int {
        let raw = String(decoding: bytes, as: UTF8.self)
        _ = Redact.text(raw)
        _ = Redact.dsnPasswords(raw)
        // A password of the input's printable bytes (no whitespace: libpq would need quotes, tried below).
        let pw = String(decoding: bytes.filter { $0 > 0x20 && $0 < 0x7F }.prefix(24), as: UTF8.self)
        guard pw.count >= 6 else { return 0 }
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        let encoded = pw.utf8.map { unreserved.contains($0) ? String(UnicodeScalar($0)) : "%" + hex($0) }.joined()
        let escaped = pw.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        let spaced = "ab cd" + escaped
        // Each form with `\u{1}` where the password is written: the output may hold the written password
        // no more often than the same text with the password masked does (a password such as "postgres"
        // also appears in the scheme).
        let forms: [(template: String, written: String, password: String)] = [
            ("postgresql://dlg:\u{1}@db.example:5432/dlg?sslmode=require", encoded, pw),
            ("postgresql://dlg@db.example/dlg?sslmode=require&password=\u{1}", encoded, pw),
            ("host=db.example port=5432 user=dlg password=\u{1} dbname=dlg", escaped, pw),
            ("host=db.example password = '\u{1}' user=dlg", spaced, "ab cd" + pw),
            ("sslmode=require password='\u{1}'", escaped, pw),
        ]
        func count(_ s: String, _ part: String) -> Int { s.components(separatedBy: part).count - 1 }
        for f in forms {
            let dsn = f.template.replacingOccurrences(of: "\u{1}", with: f.written)
            for wrap in ["\u{1}", "postgres: \u{1} (not started by dlg-cluster)", "dsn=\"\u{1}\""] {
                let text = wrap.replacingOccurrences(of: "\u{1}", with: dsn)
                let baseline = wrap.replacingOccurrences(of: "\u{1}", with: f.template.replacingOccurrences(of: "\u{1}", with: "***"))
                let shown = Redact.text(text)
                precondition(count(shown, f.written) <= count(baseline, f.written), "the password survived: \(text) -> \(shown)")
            }
            precondition(Redact.dsnPasswords(dsn).contains(f.password), "dsnPasswords missed the password of \(dsn)")
        }
        return forms.count
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }
}
