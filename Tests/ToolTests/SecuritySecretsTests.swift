// Issue 23, keys, tokens and other people's servers: each test plays a hostile or broken peer against
// the built tools, one per finding, and fails on the code before the fix:
// - a server that echoes the API key in its error bodies (the key must end up nowhere);
// - a reply that never ends (the process must stay small and say why the request failed);
// - a Hub whose reply names another host, or a file:// URL, for the call that carries the token;
// - an export holding a secret (not uploaded);
// - a key sent over plain http to a public address (one warning).

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("security: secrets and peers") struct SecuritySecretsTests {
    static func randomKey(_ prefix: String, _ n: Int = 40) -> String {
        let chars = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return prefix + String((0..<n).map { _ in chars.randomElement()! })
    }

    /// Every file under the work folder (but the config and .env, which hold secrets by design) that
    /// contains `secret`.
    static func filesHolding(_ secret: String, in work: WorkDir) -> [String] {
        work.files().filter { !["config.yaml", ".env"].contains($0) }.filter { rel in
            guard let data = FileManager.default.contents(atPath: work.path + "/" + rel) else { return false }
            return data.range(of: Data(secret.utf8)) != nil
        }
    }

    /// The finding: a `gsk_` key (a shape no prefix rule knows) echoed by the server was kept in llm.log,
    /// the journal, drop reasons and report.html.
    @Test func aServerThatEchoesTheKeyLeavesItNowhere() async throws {
        let key = Self.randomKey("gsk_")
        let work = try smallProject(label: "echo-key", total: 4, batch: 4)
        defer { work.cleanup() }
        // Faults are the point here: the run must not stop on them.
        try work.setConfig("llm.error_storm", "{enabled: false}")
        try work.setConfig("llm.max_retries", "1")
        try await withMock(["--seed", "23", "--fault-500", "0.4", "--fault-echo-key", "0.3"]) { mock in
            let r = try await stage("dlg-run", work, mock, ["--run-id", "echo"], env: ["LLM_API_KEY": key], timeout: .seconds(300))
            #expect([0, 69, 75].contains(r.status), "\(r)")
            #expect(!r.stdout.contains(key) && !r.stderr.contains(key), "the key is on stdout or stderr\n\(r)")
        }
        let log = (try? work.read("logs/llm.log")) ?? ""
        #expect(log.contains("Incorrect API key provided: [redacted]"), "the mock echoed no key: nothing was tested\n\(log.suffix(2000))")
        #expect(Self.filesHolding(key, in: work).isEmpty, "the key is in \(Self.filesHolding(key, in: work))")
    }

    /// The finding: two replies of 400 MB took the process to 1.76 GB. Now the transfer stops at the cap
    /// (16 MiB by default), the dialogue is dropped with the reason, and the process stays small.
    @Test func aReplyThatNeverEndsIsCutAtTheCap() async throws {
        let work = try smallProject(label: "huge-reply", total: 1, batch: 1)
        defer { work.cleanup() }
        let size = 300_000_000
        try await withMock(["--huge-reply-bytes", String(size)]) { mock in
            let b = ToolPaths.binDir.path
            var env = mock.env
            env["DLG_PROGRESS"] = "0"
            let r = try await runShell("/usr/bin/time -f 'maxrss_kb=%M' -o rss.txt \(b)/dlg-gen -c \(work.configPath) --new 1 --run-id cap --no-cache > out.jsonl",
                                       env: env, cwd: work.url, timeout: .seconds(300))
            #expect(r.status == 0, "\(r)")
        }
        let record = try #require(try JSONL.records(try work.read("out.jsonl")).first)
        #expect(record["status"]?.stringValue == "dropped", "\(record)")
        #expect(record["drop_reason"]?.stringValue == "llm_rejected", "\(record)")
        let detail = record["drop_detail"]?.stringValue ?? ""
        #expect(detail.contains("larger than llm.max_response_bytes (16777216 bytes)"), "\(detail)")
        let rss = try work.read("rss.txt")
        let kb = Int(rss.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? .max
        print("huge reply: dlg-gen peak RSS \(kb / 1024) MiB for a reply of \(size / 1_000_000) MB")
        #expect(kb < 150 * 1024, "peak RSS \(kb) KiB: the reply was buffered (\(rss))")
    }

    /// A tighter cap from the config, and the one request is not retried (a reply too large is not a
    /// transient fault).
    @Test func theCapIsAConfigKeyAndIsNotRetried() async throws {
        let work = try smallProject(label: "cap-key", total: 1, batch: 1)
        defer { work.cleanup() }
        try work.setConfig("llm.max_response_bytes", "100000")
        try await withMock(["--huge-reply-bytes", "2000000"]) { mock in
            let r = try await stage("dlg-gen", work, mock, ["--new", "1", "--run-id", "cap2", "--no-cache"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("larger than llm.max_response_bytes (100000 bytes)"), "\(r)")
            let stats = try await mock.stats()
            #expect(stats["chat_completions"]?.intValue == 1, "retried: \(stats.serialized())")
        }
    }

    static func hubFolder(_ work: WorkDir) throws {
        // One file big enough to go through LFS on the stand-in (2048 bytes and more).
        let big = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + String(repeating: "a", count: 3000) + "\"}]}\n"
        for name in ["conversations_sharegpt.jsonl", "conversations_sharegpt_judged.jsonl"] { try work.write("outputs/\(name)", big) }
        try work.setConfig("saving.hf_push", "{enabled: true, repo_id: me/x}")
    }

    /// The finding: the LFS verification, which carries the token, went wherever the Hub's reply said.
    @Test(arguments: [("other-host", "which is not the Hub"), ("file", "not an http(s) URL")])
    func aHubReplyNamingAnotherPlaceForTheTokenIsRefused(mode: String, says: String) async throws {
        let work = try WorkDir(label: "hub-\(mode)")
        defer { work.cleanup() }
        let token = Self.randomKey("hf_", 30)
        let received = work.file("standin.json").path
        let (standIn, endpoint) = try await startPythonStandIn("hub", script: "hub_standin.py", args: [received, token, mode])
        defer { standIn.kill() }
        try Self.hubFolder(work)
        let r = try await stage("dlg-export", work, nil, ["--hub", "--push"], env: ["HF_TOKEN": token, "HF_ENDPOINT": endpoint])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains(says) && r.stderr.contains("refused"), "\(r.stderr)")
        #expect(!r.stderr.contains(token) && !r.stdout.contains(token))
        let state = try JSONCodec.parse(Files.read(received))
        let paths = (state["requests"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
        #expect(!paths.contains("/lfs-steal"), "the token went to the other origin: \(paths)")
        #expect((state["commits"]?.arrayValue ?? []).isEmpty, "nothing is committed")
    }

    /// An export that holds a secret the tools were given is not uploaded; the message names the file.
    @Test func anExportHoldingASecretIsNotUploaded() async throws {
        let work = try WorkDir(label: "hub-secret")
        defer { work.cleanup() }
        let token = Self.randomKey("hf_", 30)
        let serper = Self.randomKey("serp", 24)
        let received = work.file("standin.json").path
        let (standIn, endpoint) = try await startPythonStandIn("hub", script: "hub_standin.py", args: [received, token])
        defer { standIn.kill() }
        try Self.hubFolder(work)
        for name in ["conversations_sharegpt.jsonl", "conversations_sharegpt_judged.jsonl"] {
            try work.write("outputs/\(name)", "{\"messages\":[{\"role\":\"assistant\",\"content\":\"my key is \(serper)\"}]}\n")
        }
        let r = try await stage("dlg-export", work, nil, ["--hub", "--push"],
                                env: ["HF_TOKEN": token, "HF_ENDPOINT": endpoint, "SERPER_API_KEY": serper])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("holds a secret") && r.stderr.contains(".jsonl"), "\(r.stderr)")
        #expect(!r.stderr.contains(serper) && !r.stdout.contains(serper))
        let state = (try? JSONCodec.parse(Files.read(received))) ?? .obj([:])
        #expect((state["requests"]?.arrayValue ?? []).isEmpty, "nothing is sent to the Hub")
    }

    /// The finding: a key went to any base_url, plain http to a public host included, with no word.
    @Test func aKeyOverPlainHTTPToAPublicHostIsWarnedAboutOnce() async throws {
        let work = try WorkDir(label: "http-warn")
        defer { work.cleanup() }
        let key = Self.randomKey("sk-", 30)
        // 203.0.113.0/24 is TEST-NET-3: public, and never answered (nothing is sent: dlg-dedup calls no LLM).
        let cases: [(url: String, warned: Bool)] = [("http://203.0.113.7:8000/v1", true), ("http://10.1.2.3:8000/v1", false),
                                                    ("http://127.0.0.1:8000/v1", false), ("https://203.0.113.7/v1", false)]
        for c in cases {
            let r = try await stage("dlg-dedup", work, nil, ["--run-id", "w"], stdin: "",
                                    env: ["LLM_BASE_URL": c.url, "LLM_API_KEY": key, "LLM_MODEL": "m"])
            #expect(r.status == 0, "\(r)")
            let warnings = r.stderr.split(separator: "\n").filter { $0.contains("plain http") }
            #expect(warnings.count == (c.warned ? 1 : 0), "\(c.url): \(r.stderr)")
            #expect(!r.stderr.contains(key))
        }
    }
}
