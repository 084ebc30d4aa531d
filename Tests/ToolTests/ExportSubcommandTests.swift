// dlg-export's subcommands (dataset, the default; hub; report; metrics), the flags of before as their
// aliases (the same stdout and files), their usage errors (64, a message naming the flags), their help,
// and the same through the multicall binary (`dlg export report`).

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-export subcommands") struct ExportSubcommandTests {
    static let records = Fixtures.path("export_records.jsonl")
    /// The fixture's run: its records as a run's journal under outputs/run_state/fx-export/.
    static let runID = "fx-export"

    /// `dlg-export <args>` in `work` (the subcommand, when any, first; then the config).
    static func export(_ work: WorkDir, _ args: [String], env: [String: String] = [:]) async throws -> ToolResult {
        try await runTool("dlg-export", args: args.isEmpty || args[0].hasPrefix("-") ? ["--config", work.configPath] + args
                              : [args[0], "--config", work.configPath] + args.dropFirst(), env: env, cwd: work.url)
    }

    /// The dataset files and metrics.json, by name, as bytes.
    static func outputs(_ work: WorkDir) throws -> [String: String] {
        var files: [String: String] = [:]
        for name in datasetFiles + ["metrics.json"] { files[name] = try work.read("outputs/" + name) }
        return files
    }

    static func placeJournal(_ work: WorkDir) throws {
        try work.write("outputs/run_state/\(runID)/journal.jsonl", try Fixtures.text("export_records.jsonl"))
    }

    @Test func theDefaultIsDataset() async throws {
        let work = try WorkDir(label: "export-default")
        defer { work.cleanup() }
        let bare = try await Self.export(work, [Self.records])
        try #require(bare.status == 0, "\(bare)")
        let before = try Self.outputs(work)
        let named = try await Self.export(work, ["dataset", Self.records])
        try #require(named.status == 0, "\(named)")
        #expect(named.stdout == bare.stdout, "dlg-export dataset:\n\(named)\ndlg-export:\n\(bare)")
        #expect(try Self.outputs(work) == before, "dlg-export dataset wrote other files than dlg-export")
        #expect(try JSONL.object(bare.stdout)["conversations"]?.intValue ?? 0 > 0, "\(bare)")
        // From stdin, and a run from its store, as before.
        let piped = try await runTool("dlg-export", args: ["dataset", "--config", work.configPath],
                                      stdin: try Fixtures.text("export_records.jsonl"), cwd: work.url)
        #expect(piped.status == 0 && piped.stdout == bare.stdout, "\(piped)")
        try Self.placeJournal(work)
        let run = try await Self.export(work, ["dataset", "--run-id", Self.runID])
        let runAlias = try await Self.export(work, ["--run-id", Self.runID])
        #expect(run.status == 0 && run.stdout == runAlias.stdout, "\(run)\n\(runAlias)")
    }

    @Test func hubAndTheHubFlags() async throws {
        let work = try WorkDir(label: "export-hub")
        defer { work.cleanup() }
        try #require(try await Self.export(work, [Self.records]).status == 0)
        for (new, old) in [(["hub"], ["--hub"]), (["hub", "--include-run-state"], ["--hub", "--include-run-state"]),
                           (["hub", "--no-include-run-state"], ["--hub", "--no-include-run-state"])] {
            let a = try await Self.export(work, new)
            try #require(a.status == 0, "\(a)")
            let folder = try #require(try JSONL.object(a.stdout)["export_dir"]?.stringValue, "\(a)")
            let files = work.files(under: String(folder.dropFirst(work.path.count + 1)))
            let b = try await Self.export(work, old)
            #expect(b.status == 0 && b.stdout == a.stdout, "dlg-export \(old):\n\(b)\ndlg-export \(new):\n\(a)")
            #expect(work.files(under: String(folder.dropFirst(work.path.count + 1))) == files, "\(old) left other files")
        }
    }

    @Test func hubPushAndItsAliasUploadTheSameFolder() async throws {
        let work = try WorkDir(label: "export-push")
        defer { work.cleanup() }
        let token = "hf_standinToken0123456789"
        let (standIn, endpoint) = try await startPythonStandIn("hub", script: "hub_standin.py",
                                                               args: [work.file("standin.json").path, token])
        defer { standIn.kill() }
        try work.setConfig("saving.hf_push", "{repo_id: me/dlg-test, private: true}")
        try #require(try await Self.export(work, [Self.records]).status == 0)
        let env = ["HF_TOKEN": token, "HF_ENDPOINT": endpoint]
        let new = try await Self.export(work, ["hub", "--push"], env: env)
        let old = try await Self.export(work, ["--hub", "--push"], env: env)
        for r in [new, old] { try #require(r.status == 0, "\(r)") }
        let a = try #require(try JSONL.object(new.stdout)["pushed"]?.objectValue, "\(new)")
        let b = try #require(try JSONL.object(old.stdout)["pushed"]?.objectValue, "\(old)")
        for key in ["repo_id", "files", "lfs_files", "bytes"] { #expect(a[key] == b[key], "\(key): \(a) against \(b)") }
        // Without --push nothing is uploaded: no "pushed" in the line.
        let local = try await Self.export(work, ["hub"], env: env)
        let localLine = try JSONL.object(local.stdout)
        #expect(local.status == 0 && localLine["pushed"] == nil && localLine["export_dir"] != nil, "\(local)")
    }

    @Test func reportAndTheReportFlag() async throws {
        let work = try WorkDir(label: "export-report")
        defer { work.cleanup() }
        try Self.placeJournal(work)
        for (new, old) in [(["report", Self.records], ["--report", Self.records]),
                           (["report", "--run-id", Self.runID], ["--report", "--run-id", Self.runID]),
                           (["report", "--min-score", "7", Self.records], ["--report", "--min-score", "7", Self.records])] {
            let a = try await Self.export(work, new)
            try #require(a.status == 0, "\(a)")
            let page = try work.read("outputs/report.html")
            try work.remove("outputs/report.html")
            let b = try await Self.export(work, old)
            #expect(b.status == 0 && b.stdout == a.stdout, "dlg-export \(old):\n\(b)\ndlg-export \(new):\n\(a)")
            #expect(try work.read("outputs/report.html").count == page.count, "\(old) wrote another page than \(new)")
            #expect(try JSONL.object(a.stdout)["report"]?.stringValue == work.file("outputs/report.html").path, "\(a)")
        }
    }

    @Test func metricsOfAFinishedRunAreTheExportsOwn() async throws {
        let work = try WorkDir(label: "export-metrics")
        defer { work.cleanup() }
        try Self.placeJournal(work)
        // No run named, configured or last: nothing to measure (66).
        let none = try await Self.export(work, ["metrics"])
        #expect(none.status == 66 && none.stdout.isEmpty && none.stderr.contains("dlg-export: error: no run to measure"), "\(none)")

        let exported = try await Self.export(work, ["dataset", "--run-id", Self.runID])
        try #require(exported.status == 0, "\(exported)")
        let figures = try work.read("outputs/metrics.json")
        try FileManager.default.removeItem(at: work.file("outputs/metrics.json"))
        for name in datasetFiles { try work.remove("outputs/" + name) }

        let r = try await Self.export(work, ["metrics", "--run-id", Self.runID])
        try #require(r.status == 0, "\(r)")
        #expect(try work.read("outputs/metrics.json") == figures, "dlg-export metrics wrote other figures than the export")
        let line = try JSONL.object(r.stdout)
        #expect(line["run_id"] == .string(Self.runID) && line["metrics"] == .string(work.file("outputs/metrics.json").path), "\(r)")
        #expect(line["dialogues"] == (try JSONCodec.parse(figures))["overall"]?["dialogues"], "\(r)")
        for name in datasetFiles { #expect(!work.exists("outputs/" + name), "dlg-export metrics wrote \(name)") }

        // The last run by default (run_state/last_run_id.txt, as dlg-run leaves it).
        try work.write("outputs/run_state/last_run_id.txt", Self.runID + "\n")
        let last = try await Self.export(work, ["metrics"])
        #expect(last.status == 0 && last.stdout == r.stdout, "\(last)")
        let missing = try await Self.export(work, ["metrics", "--run-id", "nosuch"])
        #expect(missing.status == 66 && missing.stderr.contains("no such run journal"), "\(missing)")
    }

    /// Each bad combination: exit 64, nothing on stdout, a message that names what is wrong.
    @Test(arguments: [
        (["--push"], "\"--push\" goes with \"--hub\""),
        (["--hub", "--report"], "\"--hub\" and \"--report\" are separate runs of dlg-export"),
        (["--hub", "x.jsonl"], "\"--hub\" reads the dataset file in saving.output_dir, not record files"),
        (["--include-run-state"], "\"--include-run-state\" goes with \"--hub\""),
        (["dataset", "--run-id", "r1", "x.jsonl"], "\"--run-id\" reads the run from the store, not from files"),
        (["dataset", "--min-score", "11"], "\"--min-score\" must be from 0 to 10"),
        (["hub", "x.jsonl"], "Unexpected argument 'x.jsonl'"),
        (["hub", "--run-id", "r1"], "Unknown option '--run-id'"),
        (["report", "--run-id", "r1", "x.jsonl"], "\"--run-id\" and record files do not go together"),
        (["metrics", "--run-id", "../r1"], "\"--run-id\" must not contain \"/\" or \"..\""),
        (["report", "--min-score", "10.5"], "\"--min-score\" must be from 0 to 10"),
        // A subcommand after an option reads as a record file: say how to put it.
        (["--strict", "report"], "\"report\" is a subcommand of dlg-export: name it first"),
    ])
    func aBadCombinationIsAUsageError(args: [String], message: String) async throws {
        let work = try WorkDir(label: "export-usage")
        defer { work.cleanup() }
        let r = try await Self.export(work, args)
        #expect(r.status == 64 && r.stdout.isEmpty && r.stderr.contains(message), "\(r)")
        #expect(!work.exists("outputs/synthetic_qa.jsonl"), "a usage error wrote the dataset")
    }

    @Test func eachSubcommandHasItsHelp() async throws {
        let root = try await runTool("dlg-export", args: ["--help"])
        try #require(root.status == 0, "\(root)")
        #expect(root.stdout.contains("USAGE: dlg-export <subcommand>"), "\(root)")
        for name in ["dataset (default)", "hub", "report", "metrics"] {
            #expect(root.stdout.contains("\n  \(name) "), "dlg-export --help does not list \(name)\n\(root)")
        }
        for (name, options) in [("dataset", ["--run-id", "--min-score", "--strict", "<files>"]), ("hub", ["--push", "--include-run-state"]),
                                ("report", ["--run-id", "--min-score", "<files>"]), ("metrics", ["--run-id"])] {
            let r = try await runTool("dlg-export", args: [name, "--help"])
            #expect(r.status == 0 && r.stdout.contains("USAGE: dlg-export \(name)"), "\(r)")
            for option in options { #expect(r.stdout.contains(option), "dlg-export \(name) --help lacks \(option)\n\(r)") }
            // The aliases stay out of the help.
            #expect(!r.stdout.contains("--hub") && !r.stdout.contains("--report"), "\(r)")
            let viaDlg = try await runTool("dlg", args: ["export", name, "--help"])
            #expect(viaDlg.status == 0 && viaDlg.stdout == r.stdout, "dlg export \(name) --help:\n\(viaDlg)")
        }
    }

    @Test func theSubcommandsThroughDlg() async throws {
        let work = try WorkDir(label: "export-dlg")
        defer { work.cleanup() }
        try Self.placeJournal(work)
        for args in [["report", "--run-id", Self.runID], ["metrics", "--run-id", Self.runID], ["dataset", Self.records]] {
            let linked = try await Self.export(work, args)
            let direct = try await runTool("dlg", args: ["export", args[0], "--config", work.configPath] + args.dropFirst(), cwd: work.url)
            #expect(linked.status == 0 && direct.status == 0 && direct.stdout == linked.stdout, "dlg export:\n\(direct)\ndlg-export:\n\(linked)")
        }
    }

    /// What make install writes from the help: the man page names each subcommand (dataset as the default) with
    /// its options, and each shell's completion offers the subcommands.
    @Test func theManPageAndCompletionsNameTheSubcommands() async throws {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError("scripts/manpage.py needs python3, which is not installed (Debian: apt-get install python3)")
        }
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let page = try await runProcess(python, args: [repo.appendingPathComponent("scripts/manpage.py").path, try ToolPaths.binary("dlg-export")])
        try #require(page.status == 0, "\(page)")
        #expect(page.stdout.contains("[\\fICOMMAND\\fR]"), "the synopsis does not show the command as optional\n\(page.stdout)")
        for heading in [".SS dataset (the default)", ".SS hub", ".SS report", ".SS metrics", "\\-\\-push", "\\-\\-run\\-id"] {
            #expect(page.stdout.contains(heading), "man page lacks \(heading)\n\(page.stdout)")
        }
        // The aliases are named in the description, not listed as options.
        #expect(!page.stdout.contains("\\fB\\-\\-hub\\fR") && !page.stdout.contains("\\fB\\-\\-report\\fR"), "the hidden aliases are listed as options")
        for shell in ["bash", "zsh", "fish"] {
            let r = try await runTool("dlg-export", args: ["--generate-completion-script", shell])
            try #require(r.status == 0, "\(r)")
            for name in ["dataset", "hub", "report", "metrics", "push"] { #expect(r.stdout.contains(name), "\(shell) completion lacks \(name)") }
        }
    }
}
