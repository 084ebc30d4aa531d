// Issue 23, files and inputs: each test attacks one finding through the built tools, and each would
// fail on the code before the fix (docs/security.md, "Files and inputs").

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("security: files and inputs") struct SecurityFilesTests {
    /// The dataset files from the export fixture, and a canary beside them.
    func exported(_ label: String) async throws -> WorkDir {
        let work = try WorkDir(label: label)
        let r = try await stage("dlg-export", work, nil, [Fixtures.path("export_records.jsonl")])
        try #require(r.status == 0, "\(r)")
        try work.write("outputs/canary.txt", "mine\n")
        try work.write("outputs/run_state/keep/journal.jsonl", "{}\n")
        return work
    }

    /// `export_dir` "", "..", an absolute path elsewhere, a link out of the outputs: exit 78 naming the
    /// key and its config line, and nothing deleted (once "" and ".." emptied outputs/ and the run state).
    @Test(arguments: ["\"\"", "\"..\"", "ABSOLUTE", "LINK"])
    func anExportFolderOutsideTheOutputsIsRefusedBeforeAnythingIsTouched(_ value: String) async throws {
        let work = try await exported("sec-export-dir")
        let outside = try WorkDir(copyExamples: false, label: "sec-outside")
        try outside.write("precious.txt", "theirs\n")
        var exportDir = value
        if value == "ABSOLUTE" { exportDir = outside.path }
        if value == "LINK" {
            exportDir = "hf_export"
            #expect(symlink(outside.path, work.file("outputs/hf_export").path) == 0)
        }
        try work.setConfig("saving.hf_push", "{export_dir: \(exportDir)}")
        let before = work.files(under: "outputs")
        let r = try await stage("dlg-export", work, nil, ["--hub"])
        #expect(r.status == 78, "\(r)")
        let line = try work.configLine(of: "saving.hf_push")
        #expect(r.stderr.contains("config.yaml:\(line): saving.hf_push.export_dir:"), "\(r)")
        #expect(try work.read("outputs/canary.txt") == "mine\n", "\(r)")
        #expect(work.files(under: "outputs") == before, "outputs changed: \(work.files(under: "outputs"))")
        #expect(outside.files() == ["precious.txt"])
        #expect(try outside.read("precious.txt") == "theirs\n")
        #expect(work.exists("config.yaml") && work.exists("outputs/run_state/keep/journal.jsonl"))
    }

    /// Exporting again replaces only what the last export wrote: a user's file in the folder stays, and
    /// one standing where the export writes stops it (78) untouched.
    @Test func reExportKeepsWhatTheUserPutInTheExportFolder() async throws {
        let work = try await exported("sec-reexport")
        try work.setConfig("saving.hf_push", "{generate_plots: true}")
        let first = try await stage("dlg-export", work, nil, ["--hub", "--include-run-state"])
        try #require(first.status == 0, "\(first)")
        #expect(work.exists("outputs/hf_export/run_state/keep/journal.jsonl"))
        let manifest = try JSONL.object(try work.read("outputs/hf_export/.dlgforge_export.json"))
        #expect(manifest["files"]?.arrayValue?.contains("README.md") == true, "\(manifest)")
        try work.write("outputs/hf_export/NOTES.md", "my notes\n")
        try work.write("outputs/hf_export/plots/mine.svg", "<svg/>\n")

        try work.setConfig("saving.hf_push", "{generate_plots: false}")
        let again = try await stage("dlg-export", work, nil, ["--hub"])
        #expect(again.status == 0, "\(again)")
        #expect(try work.read("outputs/hf_export/NOTES.md") == "my notes\n")
        #expect(try work.read("outputs/hf_export/plots/mine.svg") == "<svg/>\n")
        #expect(!work.exists("outputs/hf_export/run_state"), "the last export's run state is its own to remove")
        #expect(!work.exists("outputs/hf_export/plots/turn_count_distribution.svg"), "the last export's plots are removed")
        #expect(work.exists("outputs/hf_export/README.md"))
        #expect(temporaryFiles(work).isEmpty, "\(temporaryFiles(work))")

        // A file of the same name as one the export writes, not written by it: refused, not replaced.
        try work.remove("outputs/hf_export/.dlgforge_export.json")
        try work.write("outputs/hf_export/README.md", "the user's card\n")
        let blocked = try await stage("dlg-export", work, nil, ["--hub"])
        #expect(blocked.status == 78 && blocked.stderr.contains(": not written by the last export"), "\(blocked)")
        #expect(try work.read("outputs/hf_export/README.md") == "the user's card\n")
        #expect(try work.read("outputs/hf_export/NOTES.md") == "my notes\n")
    }

    /// The 448-byte billion laughs as the config: refused (78, naming the file) by the node budget.
    @Test func anAliasBombConfigIsRefusedByItsNodeBudget() async throws {
        let work = try WorkDir(label: "sec-bomb")
        try work.writeConfig("saving:\n  output_dir: outputs\nrun:\n" + HostileYAML.aliasBomb(indent: "  "))
        #expect(try work.read("config.yaml").utf8.count <= 448)
        let r = try await stage("dlg-export", work, nil, ["--report"], timeout: .seconds(60))
        #expect(r.status == 78, "\(r)")
        #expect(r.stderr.contains("\(work.configPath): stands for more than 100000 values once its aliases are expanded"), "\(r)")
    }

    /// A config holding a key, readable by others: dlg-run warns once, naming the file and chmod 600;
    /// at 0600 it does not.
    @Test func aWorldReadableConfigWithAKeyIsWarnedAbout() async throws {
        let work = try WorkDir(label: "sec-mode")
        let secret = "sk-file-0123456789abcdef"
        try work.setConfig("llm.api_key", secret)
        let refused = try RefusedPort()
        for mode: mode_t in [0o644, 0o600] {
            chmod(work.configPath, mode)
            let r = try await stage("dlg-run", work, nil, ["--run-id", "mode"], env: ["DLGFORGE_BASE_URL": refused.baseURL])
            let warned = r.stderr.components(separatedBy: "\n").filter { $0.contains("chmod 600") }
            #expect(warned.count == (mode == 0o644 ? 1 : 0), "mode \(String(mode, radix: 8)): \(r)")
            #expect(warned.allSatisfy { $0.hasPrefix("dlg-run: warning: \(work.configPath): holds a key") }, "\(warned)")
            #expect(!r.stderr.contains(secret), "\(r)")
        }
    }

    /// A bad percent escape in the report's link (#%E0%A4%A) once stopped the page's script.
    @Test(.enabled(if: Chromium.binary != nil, Comment(rawValue: ReportToolTests.skipReason)), .timeLimit(.minutes(5)))
    func theReportSurvivesABadPercentEscapeInItsHash() async throws {
        let work = try WorkDir(label: "sec-report")
        try FileManager.default.createDirectory(at: work.file("outputs"), withIntermediateDirectories: true)
        let e = try await stage("dlg-export", work, nil, ["--report", Fixtures.path("export_records.jsonl")])
        try #require(e.status == 0, "\(e)")
        let url = URL(fileURLWithPath: work.file("outputs/report.html").path).absoluteString
        let page = try await Chromium.load(url + "#%E0%A4%A", "--dump-dom", work: work)
        #expect(Chromium.scriptErrors(page).isEmpty, "\(Chromium.scriptErrors(page))")
        #expect(domAttribute(page.stdout, "ready") == "1", "the page's script did not finish\n\(page.stdout.prefix(2000))")
    }

    /// `dlg-export --report` into an output folder that does not exist yet: made, not exit 74.
    @Test func theReportMakesItsOutputFolder() async throws {
        let work = try WorkDir(label: "sec-report-dir")
        try work.setConfig("saving.output_dir", "not/yet/there")
        let r = try await stage("dlg-export", work, nil, ["--report", Fixtures.path("export_records.jsonl")])
        #expect(r.status == 0, "\(r)")
        #expect(work.exists("not/yet/there/report.html"), "\(r)")
    }
}
