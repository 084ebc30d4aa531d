// Upload to the Hub against a local stand-in of its HTTP API (Fixtures/hub_standin.py on 127.0.0.1):
// the repo is created, every file of the export folder lands in one commit with commit_message, large
// files through LFS (sha256 oids, bytes that match), the token only in the Authorization header.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("hub upload") struct HubUploadTests {
    static let token = "hf_standinToken0123456789"

    static func startStandIn(out: String) async throws -> (RunningTool, String) {
        try await startPythonStandIn("hub", script: "hub_standin.py", args: [out, token])
    }

    @Test func theRunAndDlgExportUploadTheExportInOneCommit() async throws {
        let work = try smallProject(label: "hub", total: 2, batch: 2)
        defer { work.cleanup() }
        let received = work.file("standin.json").path
        let (standIn, endpoint) = try await Self.startStandIn(out: received)
        defer { standIn.kill() }
        try work.setConfig("saving.hf_push", "{enabled: true, auto_push_on_run: true, repo_id: me/dlg-test, private: true, commit_message: Test upload, generate_stats: true}")
        let env = ["HF_TOKEN": Self.token, "HF_ENDPOINT": endpoint]
        // 1. dlg-run uploads at its end (saving.hf_push.auto_push_on_run).
        try await withMock(["--seed", "91"]) { mock in
            let r = try await stage("dlg-run", work, mock, ["--run-id", "hub"], env: env)
            try #require(r.status == 0, "\(r)")
            #expect(r.stderr.contains("uploaded") && r.stderr.contains("me/dlg-test"), "\(r.stderr)")
            #expect(!r.stderr.contains("not available"), "\(r.stderr)")
        }
        // 2. dlg-export --hub --push uploads again: the repo exists, the LFS objects too.
        let r = try await stage("dlg-export", work, nil, ["--hub", "--push"], env: env)
        try #require(r.status == 0, "\(r)")
        let line = try JSONL.object(r.stdout)
        let pushed = try #require(line["pushed"]?.objectValue, "\(r.stdout)")
        let exportDir = try #require(line["export_dir"]?.stringValue)
        let local = work.files(under: String(exportDir.dropFirst(work.path.count + 1)))
        #expect(pushed["files"]?.intValue == local.count, "\(pushed)")
        #expect(pushed["created"]?.boolValue == false, "the second push finds the repo")
        #expect((pushed["lfs_files"]?.intValue ?? 0) >= 1 && pushed["lfs_uploaded"]?.intValue == 0, "\(pushed)")

        let state = try #require(try JSONCodec.parse(Files.read(received)).objectValue)
        let requests = state["requests"]?.arrayValue ?? []
        for q in requests where !(q["path"]?.stringValue ?? "").hasPrefix("/lfs-objects/") {
            #expect(q["auth_ok"]?.boolValue == true, "\(q.serialized()) had no Bearer token")
        }
        let created = state["created"]?.arrayValue ?? []
        #expect(created.count == 2)
        #expect(created.first == .obj(["name": "dlg-test", "organization": "me", "type": "dataset", "private": true]),
                "\(created.first?.serialized() ?? "")")
        let commits = state["commits"]?.arrayValue ?? []
        try #require(commits.count == 2, "one commit per push: \(commits.count)")
        for commit in commits {
            #expect(commit["summary"]?.stringValue == "Test upload")
            #expect(commit["path"]?.stringValue == "/api/datasets/me/dlg-test/commit/main")
            #expect(commit["content_type"]?.stringValue == "application/x-ndjson")
            let files = commit["files"]?.objectValue ?? JSONObject()
            let lfs = commit["lfs"]?.objectValue ?? JSONObject()
            #expect(Set(files.keys).union(lfs.keys) == Set(local),
                    "committed \(files.keys) + \(lfs.keys), folder \(local)")
            for (path, sum) in files.pairs {
                #expect(sum.stringValue == SHA256.hex(try Files.read(exportDir + "/" + path)), "\(path) differs")
            }
            for (path, oid) in lfs.pairs {
                let expected = SHA256.hex(try Files.read(exportDir + "/" + path))
                #expect(oid.stringValue == expected, "\(path): oid")
                #expect(state["lfs_objects"]?[expected]?.stringValue == expected, "\(path): the bytes uploaded match the oid")
            }
            #expect(!lfs.isEmpty && !files.isEmpty, "both kinds of file: \(lfs.keys) / \(files.keys)")
        }
        // The token is in no output, log or message.
        #expect(!r.stdout.contains(Self.token) && !r.stderr.contains(Self.token))
        for file in work.files(under: "outputs") + work.files(under: "logs") where !file.hasSuffix(".sqlite") {
            #expect(!((try? work.read(file)) ?? "").contains(Self.token), "\(file) holds the token")
        }
    }

    @Test func aRefusedTokenIsAConfigErrorWithoutTheToken() async throws {
        let work = try WorkDir(label: "hub-bad")
        defer { work.cleanup() }
        let received = work.file("standin.json").path
        let (standIn, endpoint) = try await Self.startStandIn(out: received)
        defer { standIn.kill() }
        for name in ["conversations_sharegpt.jsonl", "conversations_sharegpt_judged.jsonl"] {
            try work.write("outputs/\(name)", "{\"messages\":[]}\n")
        }
        try work.setConfig("saving.hf_push", "{enabled: true, repo_id: me/x}")
        let wrong = "hf_wrongToken987"
        let r = try await stage("dlg-export", work, nil, ["--hub", "--push"], env: ["HF_TOKEN": wrong, "HF_ENDPOINT": endpoint])
        #expect(r.status == 78, "\(r)")
        #expect(r.stderr.contains("refused the token"), "\(r.stderr)")
        #expect(!r.stderr.contains(wrong) && !r.stdout.contains(wrong))
        let none = try await stage("dlg-export", work, nil, ["--hub", "--push"], env: ["HF_ENDPOINT": endpoint, "HOME": work.path])
        #expect(none.status == 78 && none.stderr.contains("no Hugging Face token"), "\(none)")
    }
}
