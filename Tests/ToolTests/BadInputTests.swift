// Bad input: malformed lines, broken records, bad config values, a missing knowledge folder, an
// unreachable server, bad flags. Each gives its sysexits status and a message that says where.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("bad input") struct BadInputTests {
    /// A malformed line is reported with its line number and skipped; the good lines still come out,
    /// and the exit status says the data was bad.
    @Test func malformedLineIsReportedAndSkipped() async throws {
        let work = try WorkDir()
        let r = try await stage("dlg-dedup", work, nil, stdin: try Fixtures.text("bad_json_middle.jsonl"))
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("dlg-dedup: error: stdin:2"), "\(r)")
        let out = try JSONL.records(r.stdout)
        #expect(out.map { $0["conversation_id"]?.stringValue ?? "" } == ["fx-bad-0000", "fx-bad-0002"], "\(r)")
        #expect(out.allSatisfy { $0["pending"]?["state"]?.stringValue == "accepted" }, "\(r)")
    }

    /// --strict stops at the bad line: nothing after it is written.
    @Test func strictStopsAtTheFirstBadLine() async throws {
        let work = try WorkDir()
        let r = try await stage("dlg-dedup", work, nil, ["--strict"], stdin: try Fixtures.text("bad_json_middle.jsonl"))
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("stdin:2"), "\(r)")
        #expect(!r.stdout.contains("fx-bad-0002"), "a record after the bad line was written\n\(r)")
    }

    struct BrokenRecord: CustomTestStringConvertible, Sendable {
        var name: String
        var field: String
        var edit: @Sendable (inout JSONObject) -> Void
        var testDescription: String { name }
    }

    static let brokenRecords: [BrokenRecord] = [
        BrokenRecord(name: "no target_turns", field: "target_turns") { $0["target_turns"] = nil },
        BrokenRecord(name: "no conversation_id", field: "conversation_id") { $0["conversation_id"] = nil },
        BrokenRecord(name: "conversation_id escaping its folder", field: "conversation_id") { $0["conversation_id"] = "../x" },
        BrokenRecord(name: "unknown status", field: "status") { $0["status"] = "finished" },
        BrokenRecord(name: "turns not a list", field: "turns") { $0["turns"] = "none" },
        BrokenRecord(name: "pending question not a string", field: "pending.user_message") { $0["pending"]?["user_message"] = 42 },
    ]

    /// A record missing a field every stage needs is a bad line (65) whose message names the field.
    @Test(arguments: BadInputTests.brokenRecords)
    func brokenRecordIsABadLine(_ broken: BrokenRecord) async throws {
        let work = try WorkDir()
        var good = try Fixtures.records("dedup_case_whitespace.jsonl")
        broken.edit(&good[1])
        let r = try await stage("dlg-dedup", work, nil, stdin: JSONL.text(good))
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("stdin:2") && r.stderr.contains(broken.field), "\(r)")
        #expect(r.stdoutLines.count == 1, "the good record must still come out\n\(r)")
    }

    /// The fixture without target_turns, given to dlg-export as a file: the message names the file and line.
    @Test func brokenRecordInAFileNamesTheFile() async throws {
        let work = try WorkDir()
        let r = try await stage("dlg-export", work, nil, [Fixtures.path("missing_target_turns.jsonl")])
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("missing_target_turns.jsonl:1") && r.stderr.contains("target_turns"), "\(r)")
    }

    /// `run.turn_count_distribution: gaussian` → 78, naming the key path and `config.yaml:<line>`.
    @Test(arguments: [["dlg-gen", "--new", "1"], ["dlg-dedup"], ["dlg-respond"], ["dlg-run"]])
    func badConfigValueNamesTheKeyAndLine(_ command: [String]) async throws {
        let work = try WorkDir()
        try work.setConfig("run.turn_count_distribution", "gaussian")
        let line = try work.configLine(of: "run.turn_count_distribution")
        let r = try await stage(command[0], work, nil, Array(command.dropFirst()), stdin: "")
        #expect(r.status == 78, "\(r)")
        #expect(r.stderr.contains("run.turn_count_distribution"), "\(r)")
        #expect(r.stderr.contains("config.yaml:\(line)"), "expected config.yaml:\(line)\n\(r)")
        #expect(r.stderr.hasPrefix("\(command[0]): error: "), "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
    }

    /// No knowledge/ folder beside the config → 66 (missing input), before any LLM call.
    @Test(arguments: [["dlg-respond"], ["dlg-gen", "--new", "1"], ["dlg-run"]])
    func missingKnowledgeFolderIsMissingInput(_ command: [String]) async throws {
        let work = try WorkDir()
        try work.remove("knowledge")
        let input = try Fixtures.text("respond_accepted.jsonl")
        try await withMock(["--seed", "61"]) { mock in
            let r = try await stage(command[0], work, mock, Array(command.dropFirst()), stdin: input)
            #expect(r.status == 66, "\(r)")
            #expect(r.stderr.contains("knowledge"), "\(r)")
            #expect(r.stdout.isEmpty, "\(r)")
            let stats = try await mock.stats()
            #expect(stats["chat_completions"]?.intValue == 0, "\(stats.serialized())")
        }
    }

    /// Nothing listens at llm.base_url: dlg-run stops before the run (69), names the endpoint, and
    /// leaves no dataset file and no temporary under outputs/.
    @Test func unreachableServerStopsTheRunBeforeAnyOutput() async throws {
        let work = try WorkDir()
        let refused = try RefusedPort()
        let url = refused.baseURL
        let secret = "sk-tooltest-0123456789abcdef"
        let r = try await stage("dlg-run", work, nil, ["--run-id", "down"],
                                env: ["DLGFORGE_BASE_URL": url, "DLGFORGE_API_KEY": secret], timeout: .seconds(120))
        #expect(r.status == 69, "\(r)")
        #expect(!r.stderr.contains(secret), "the API key is in the error message\n\(r)")
        for log in work.files(under: "logs") {
            #expect(!(try work.read("logs/\(log)")).contains(secret), "the API key is in logs/\(log)")
        }
        #expect(r.stderr.contains(url), "stderr must name the endpoint \(url)\n\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
        let files = work.files(under: "outputs")
        #expect(temporaryFiles(work).isEmpty, "temporary files: \(temporaryFiles(work))")
        let dataset = files.filter { f in
            datasetFiles.contains(f) || f == "coverage_ledger.jsonl" || f.hasPrefix("conversations/") || f.hasSuffix(".jsonl")
        }
        #expect(dataset.isEmpty, "dataset files written by a run that never started: \(dataset)")
    }

    /// A stage whose server goes away leaves its records unchanged (to be retried) and exits 69.
    @Test func aStageWithoutItsServerExits69AndLeavesRecordsUnchanged() async throws {
        let work = try WorkDir()
        defer { work.cleanup() }
        try work.setConfig("llm.max_retries", "0")
        let refused = try RefusedPort()
        let url = refused.baseURL
        let r = try await stage("dlg-gen", work, nil, ["--new", "2", "--language", "en", "--run-id", "gone"],
                                env: ["DLGFORGE_BASE_URL": url])
        #expect(r.status == 69, "\(r)")
        #expect(r.stderr.contains("unavailable"), "\(r)")
        let records = try JSONL.records(r.stdout)
        #expect(records.count == 2, "\(r)")
        for rec in records {
            #expect(rec["status"] == "active" && (rec["pending"] == nil || rec["pending"] == .null), "\(r)")
        }
    }

    /// Once the server is found gone, a stage stops calling it: in input order it writes the rest of
    /// its input back unchanged (no retry per record), and --unordered (dlg-run's loop, which keeps
    /// every record itself) it stops reading. Both exit 69.
    @Test func aStageStopsCallingAServerThatIsGone() async throws {
        let work = try WorkDir()
        defer { work.cleanup() }
        try work.setConfig("llm.max_retries", "0")
        let refused = try RefusedPort()
        let url = refused.baseURL
        let template = try Fixtures.records("respond_accepted.jsonl")[0]
        let input: [JSONObject] = (0..<40).map { i in
            var r = template
            r["conversation_id"] = .string("gone-\(i)")
            return r
        }
        for unordered in [false, true] {
            let r = try await stage("dlg-respond", work, nil, ["--concurrency", "1"] + (unordered ? ["--unordered"] : []),
                                    stdin: JSONL.text(input), env: ["DLGFORGE_BASE_URL": url])
            #expect(r.status == 69, "\(r)")
            let out = try JSONL.records(r.stdout)
            if unordered {
                #expect(!out.isEmpty && out.count < input.count, "an unordered stage must stop reading: \(out.count) written\n\(r)")
            } else {
                #expect(out.map { $0["conversation_id"] } == input.map { $0["conversation_id"] }, "\(r)")
            }
            for rec in out {
                #expect(rec["pending"] == template["pending"] && rec["turns"] == template["turns"], "record changed: \(r)")
            }
        }
    }

    /// dlg-run names config keys no version defines, with their line.
    @Test func unknownConfigKeysAreWarnedAbout() async throws {
        let work = try WorkDir()
        defer { work.cleanup() }
        try work.write("config.yaml", try work.read("config.yaml") + "\nrun_extra_typo: 1\n")
        let r = try await stage("dlg-run", work, nil, ["--run-id", "typo"],
                                env: ["DLGFORGE_BASE_URL": "http://127.0.0.1:9/v1"])
        #expect(r.stderr.contains("run_extra_typo: unknown config key"), "\(r)")
    }

    /// Bad flags are usage errors (64) that quote the flag.
    @Test(arguments: [
        ["dlg-gen", "--new", "0"],
        ["dlg-gen", "--new", "1", "--run-id", "a/b"],
        ["dlg-gen", "--language", "en"],
        ["dlg-run", "--run-id", "../elsewhere"],
        ["dlg-judge", "--granularity", "sentence"],
    ])
    func badFlagIsAUsageError(_ command: [String]) async throws {
        let work = try WorkDir()
        let r = try await stage(command[0], work, nil, Array(command.dropFirst()), stdin: "")
        #expect(r.status == 64, "\(r)")
        let flag = command.dropFirst().first { $0.hasPrefix("--") && $0 != "--new" } ?? "--new"
        #expect(r.stderr.contains(flag), "stderr should quote \(flag)\n\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
    }

    /// dlg-export names files after conversation ids: an id with "/" or ".." is a bad record, and no
    /// file is written outside outputs/conversations.
    @Test func conversationIDCannotEscapeTheOutputFolder() async throws {
        let work = try WorkDir()
        var records = try Fixtures.records("export_records.jsonl")
        records[0]["conversation_id"] = "../../escaped"
        records[1]["conversation_id"] = "sub/escaped"
        let r = try await stage("dlg-export", work, nil, stdin: JSONL.text(records))
        #expect(r.status == 65, "\(r)")
        #expect(r.stderr.contains("stdin:1") && r.stderr.contains("stdin:2") && r.stderr.contains("conversation_id"), "\(r)")
        let escaped = work.files().filter { $0.contains("escaped") }
        #expect(escaped.isEmpty, "files written for the bad ids: \(escaped)")
        #expect(!FileManager.default.fileExists(atPath: work.url.deletingLastPathComponent().appendingPathComponent("escaped.json").path))
    }

    /// Resuming a run with another run.batch_size cannot give the same dataset: a config error (78)
    /// naming the key, before any LLM call.
    @Test func resumingWithAnotherBatchSizeIsAConfigError() async throws {
        let work = try WorkDir()
        let saved = JSON.obj(["run_id": "resize", "status": "in_progress", "batch_size": 2, "conversations": []])
        try work.write("outputs/run_state/resize.json", saved.pretty() + "\n")
        try await withMock(["--seed", "62"]) { mock in
            let r = try await stage("dlg-run", work, mock, ["--run-id", "resize"])
            #expect(r.status == 78, "\(r)")
            #expect(r.stderr.contains("run.batch_size"), "\(r)")
            let stats = try await mock.stats()
            #expect(stats["chat_completions"]?.intValue == 0, "\(stats.serialized())")
        }
    }
}
