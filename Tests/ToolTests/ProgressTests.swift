// What a person sees of dlg-run: on a terminal (a pseudo-terminal made by `script`), the progress line
// and the summary for people; in a pipe, the one-line JSON summary as before. And `make install`'s
// files: every tool, a man page each that man renders, completions for bash, zsh and fish.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("progress and summary") struct ProgressTests {
    static let hasScript = FileManager.default.isExecutableFile(atPath: "/usr/bin/script")

    /// `script` (util-linux) gives dlg-run a terminal on stdout and stderr; its output is what the person saw.
    @Test(.enabled(if: hasScript, "needs script(1) from util-linux: apt-get install bsdutils"))
    func onATerminalTheRunDrawsItsProgressAndEndsWithASummaryForPeople() async throws {
        let work = try smallProject(label: "pty", total: 6, batch: 2)
        defer { work.cleanup() }
        try work.setConfig("llm.price", "{prompt_per_million: 2.5, completion_per_million: 10}")
        try await withMock(["--latency-ms", "60"]) { mock in
            // A terminal 120 columns wide: every field fits, and no line may be longer.
            let run = "stty cols 120; \(try ToolPaths.binary("dlg-run")) --config \(work.configPath) --run-id tty"
            let r = try await runShell("script -qfec '\(run)' /dev/null", env: mock.env, cwd: work.url,
                                       timeout: .seconds(300))
            try #require(r.status == 0, "\(r)")
            let screen = r.stdout
            // The progress line, redrawn in place: completed/target (percent), dropped, in flight, the
            // pace, elapsed, tokens and the cost the price gives.
            let draws = screen.components(separatedBy: "\r").filter { $0.hasPrefix("dlg-run: ") && $0.contains("in flight") }
                .map { $0.replacingOccurrences(of: "\u{1B}[K", with: "") }
            try #require(!draws.isEmpty, "no progress line on the terminal:\n\(screen)")
            let last = try #require(draws.last)
            for field in ["/6 (", "%)", "dropped", "in flight", "tokens", "$"] {
                #expect(last.contains(field), "progress line without \(field): \(last)")
            }
            #expect(draws.allSatisfy { $0.count <= 120 }, "a progress line wider than the terminal:\n\(draws)")
            // The summary for people instead of the JSON line.
            for field in ["done in", "6 dialogue(s)", "dataset", "dropped", "tokens", "cost", "run id", "tty"] {
                #expect(screen.contains(field), "summary without \(field):\n\(screen)")
            }
            #expect(!screen.contains("{\"run_id\""), "JSON summary on a terminal:\n\(screen)")
        }
    }

    /// In a pipe (every other test's case), and with --json on a terminal, stdout is the JSON summary with
    /// exactly the keys it always had, and the duplicate shares (issue 24).
    @Test(.enabled(if: hasScript, "needs script(1) from util-linux: apt-get install bsdutils"))
    func theJSONSummaryIsUnchangedInAPipeAndWithTheJSONFlag() async throws {
        let work = try smallProject(label: "json-summary", total: 2, batch: 2)
        defer { work.cleanup() }
        try await withMock { mock in
            let (piped, summary) = try await runDlgRun(work, mock, runID: "pipe")
            try #require(piped.status == 0, "\(piped)")
            let s = try #require(summary, "\(piped)")
            #expect(Set(s.keys) == ["run_id", "completed", "dialogues", "turns", "dropped", "mean_judge_score", "tokens",
                                    "wall_seconds", "output_dir", "duplicates"], "\(s.keys)")
            let run = "\(try ToolPaths.binary("dlg-run")) --config \(work.configPath) --run-id forced --json"
            let tty = try await runShell("script -qfec '\(run)' /dev/null", env: mock.env, cwd: work.url)
            try #require(tty.status == 0, "\(tty)")
            let line = try #require(tty.stdout.components(separatedBy: "\n").first { $0.contains("{\"run_id\"") }, "\(tty)")
            let forced = try JSONL.object(String(line[line.range(of: "{\"run_id\"")!.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(forced["run_id"]?.stringValue == "forced", "\(tty)")
        }
    }
}

@Suite("make install") struct InstallTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tools = ["dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge", "dlg-export", "dlg-run", "dlg-cluster"]

    /// What `make install` runs once the tools are built (the build itself is make's; running it here would
    /// wait on the build folder `swift test` holds).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/man"), "needs man: apt-get install man-db"))
    func installPutsEveryToolManPageAndCompletionInPlaceAndUninstallRemovesThem() async throws {
        let work = try WorkDir(copyExamples: false, label: "install")
        defer { work.cleanup() }
        let script = Self.repo.appendingPathComponent("scripts/install.sh").path
        let bin = ToolPaths.binDir.path
        let installed = try await runProcess(script, args: ["install", bin, "/usr/local", work.path], cwd: Self.repo)
        try #require(installed.status == 0, "\(installed)")
        let root = work.path + "/usr/local"
        // One binary; each tool a relative link to it; dlg-cluster's Ray driver where it looks without a checkout.
        #expect(FileManager.default.isExecutableFile(atPath: "\(root)/bin/dlg"), "\(installed)")
        #expect(FileManager.default.fileExists(atPath: "\(root)/share/dlgforge/cluster_driver.py"), "\(installed)")
        // Outside a checkout, dlg-cluster takes that driver instead of asking for --root.
        let status = try await runProcess("\(root)/bin/dlg-cluster", args: [
            "status", "-c", Self.repo.appendingPathComponent("examples/config.yaml").path, "--state-dir", work.path + "/state",
        ], cwd: work.url)
        #expect(status.status == 0 && status.stdout.contains("not up"), "\(status)")
        for tool in Self.tools {
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "\(root)/bin/\(tool)")) == "dlg",
                    "\(root)/bin/\(tool) is not a link to dlg")
            let help = try await runProcess("\(root)/bin/\(tool)", args: ["--help"])
            #expect(help.status == 0 && help.stdout.contains("USAGE: \(tool)"), "\(tool) --help from the install:\n\(help)")
            let page = try await runProcess("/usr/bin/man", args: ["-l", "\(root)/share/man/man1/\(tool).1"],
                                            env: ["MANPAGER": "cat", "MANWIDTH": "100"])
            #expect(page.status == 0 && page.stdout.contains(tool.uppercased()) && page.stdout.contains("--config"),
                    "man -l \(tool).1:\n\(page)")
            for (shell, file) in [("bash", "share/bash-completion/completions/\(tool)"),
                                  ("zsh", "share/zsh/site-functions/_\(tool)"),
                                  ("fish", "share/fish/vendor_completions.d/\(tool).fish")] {
                let text = (try? String(contentsOfFile: "\(root)/\(file)", encoding: .utf8)) ?? ""
                #expect(text.contains(tool) && text.contains("config"), "\(shell) completion for \(tool) missing or empty")
            }
        }
        let removed = try await runProcess(script, args: ["uninstall", "/usr/local", work.path], cwd: Self.repo)
        try #require(removed.status == 0, "\(removed)")
        let left = FileManager.default.enumerator(atPath: root)?.allObjects.compactMap { $0 as? String } ?? []
        #expect(left.isEmpty, "left behind by uninstall: \(left)")
    }
}
