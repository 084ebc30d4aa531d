// The option groups the tools share (DlgCLI): one --concurrency default for the stage tools, one --run-id
// rule for the tools that start or name a run, the same checks and messages in each.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("shared option groups") struct SharedOptionsTests {
    /// The tools (and subcommands) that take `--concurrency`, and those whose `--run-id` is the run they start.
    static let concurrencyTools: [(String, [String])] = [("dlg-gen", []), ("dlg-dedup", []), ("dlg-respond", []), ("dlg-judge", [])]
    static let runIDTools: [(String, [String])] = [("dlg-gen", []), ("dlg-run", []), ("dlg-cluster", ["run"])]

    /// The help lines of `option`: its own line and the wrapped lines under it.
    static func helpText(of option: String, in help: String) -> String {
        let lines = help.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(option) }) else { return "" }
        var text = [lines[start]]
        for line in lines[(start + 1)...] {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("-") { break }
            text.append(trimmed)
        }
        return text.joined(separator: " ")
    }

    @Test func everyStageToolDescribesOneConcurrencyDefault() async throws {
        var texts: Set<String> = []
        for (tool, sub) in Self.concurrencyTools {
            let r = try await runTool(tool, args: sub + ["--help"])
            try #require(r.status == 0, "\(r)")
            let text = Self.helpText(of: "--concurrency", in: r.stdout)
            #expect(text.contains("default: run.batch_size, at least \(StageConcurrency.llmFloor)"), "\(tool): \(text)")
            texts.insert(text)
        }
        #expect(texts.count == 1, "the tools describe --concurrency differently: \(texts)")
    }

    @Test func everyRunToolDescribesOneRunIDRule() async throws {
        var texts: Set<String> = []
        for (tool, args) in Self.runIDTools {
            let r = try await runTool(tool, args: args + ["--help"])
            try #require(r.status == 0, "\(r)")
            let text = Self.helpText(of: "--run-id", in: r.stdout)
            #expect(text.contains("run.resume_run_id, then run.run_id, else a new random id"), "\(tool): \(text)")
            texts.insert(text)
        }
        #expect(texts.count == 1, "the tools describe --run-id differently: \(texts)")
    }

    /// A run id that cannot name a folder, and a concurrency below 1: the same 64 and message in every tool.
    @Test func everyToolChecksItsSharedOptionsAlike() async throws {
        let work = try WorkDir(label: "shared-checks")
        defer { work.cleanup() }
        let runIDCases = Self.runIDTools + [("dlg-export", []), ("dlg-export", ["report"]), ("dlg-export", ["metrics"])]
        for (tool, args) in runIDCases {
            let new = tool == "dlg-gen" ? ["--new", "1"] : []
            let r = try await runTool(tool, args: args + ["--config", work.configPath, "--run-id", "../elsewhere"] + new, cwd: work.url)
            #expect(r.status == 64 && r.stdout.isEmpty && r.stderr.contains("\"--run-id\" must not contain \"/\" or \"..\""), "\(r)")
        }
        for (tool, args) in Self.concurrencyTools {
            let r = try await runTool(tool, args: args + ["--config", work.configPath, "--concurrency", "0"], cwd: work.url)
            #expect(r.status == 64 && r.stdout.isEmpty && r.stderr.contains("\"--concurrency\" must be at least 1"), "\(r)")
        }
    }

    /// dlg-gen's new dialogues take the given id, else run.resume_run_id, else run.run_id, else a random one:
    /// `RunIDs.chosen`, the rule of dlg-run and dlg-cluster run too. (A record's run_id is the run's id and
    /// its language, `<run>-en`, as in a run.)
    @Test func theRunIDRule() async throws {
        let work = try WorkDir(label: "shared-runid")
        defer { work.cleanup() }
        try await withMock(["--seed", "3"]) { mock in
            func runIDOfNew(_ args: [String] = []) async throws -> String {
                let r = try await stage("dlg-gen", work, mock, ["--new", "1"] + args)
                try #require(r.status == 0, "\(r)")
                let id = try #require(try JSONL.object(r.stdout)["run_id"]?.stringValue, "\(r)")
                try #require(id.hasSuffix("-en"), "\(r)")
                return String(id.dropLast(3))
            }
            let random = try await runIDOfNew()
            #expect(random.count == 32 && random.allSatisfy(\.isHexDigit), "\(random)")
            #expect(try await runIDOfNew() != random, "two runs without an id got the same one")
            try work.setConfig("run.run_id", "configured")
            #expect(try await runIDOfNew() == "configured")
            try work.setConfig("run.resume_run_id", "resumed")
            #expect(try await runIDOfNew() == "resumed")
            #expect(try await runIDOfNew(["--run-id", "given"]) == "given")
        }
    }

    /// dlg-run by the same rule: the configured run.run_id when no --run-id is given (its summary and journal).
    @Test func dlgRunTakesTheConfiguredRunID() async throws {
        let work = try smallProject(label: "shared-run-id", total: 1, batch: 1)
        defer { work.cleanup() }
        try work.setConfig("run.run_id", "configured")
        try await withMock(["--seed", "5"]) { mock in
            let r = try await stage("dlg-run", work, mock, ["--json"])
            try #require(r.status == 0, "\(r)")
            #expect(try JSONL.object(r.stdout)["run_id"] == .string("configured"), "\(r)")
            #expect(work.exists("outputs/run_state/configured/journal.jsonl"), "\(r)")
        }
    }

    /// The default concurrency of an LLM stage is run.batch_size raised to 64, not run.batch_size: with
    /// batch_size 2, twelve new dialogues are asked for together; --concurrency 2 keeps it to two. Counted
    /// at the server (its peak of requests in flight), not timed.
    @Test func theConcurrencyDefaultAtTheServer() async throws {
        let work = try WorkDir(label: "shared-concurrency")
        defer { work.cleanup() }
        try work.setConfig("run.batch_size", "2")
        for (args, allowed) in [([String](), 3...12), (["--concurrency", "2"], 1...2)] {
            // The latency keeps each request open long enough for the others to be sent meanwhile.
            try await withMock(["--seed", "4", "--latency-ms", "800"]) { mock in
                // --no-cache: the second pass asks the same questions, which the cache would answer.
                let r = try await stage("dlg-gen", work, mock, ["--new", "12", "--run-id", "c", "--no-cache"] + args)
                try #require(r.status == 0, "\(r)")
                let peak = try await mock.stats()["in_flight_peak"]?.intValue ?? -1
                #expect(allowed.contains(peak), "\(args): \(peak) requests in flight at the server, expected \(allowed)")
            }
        }
    }
}
