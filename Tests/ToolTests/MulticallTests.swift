// dlg, the one binary of the tools: `dlg <tool>` and the links `dlg-<tool> -> dlg` are the same tool.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg (multicall)") struct MulticallTests {
    static let tools = ["gen", "dedup", "respond", "judge", "export", "run", "cluster"]

    @Test func versionPrintsTheReleaseNumber() async throws {
        let r = try await runTool("dlg", args: ["--version"])
        #expect(r.status == 0 && r.stdout == DlgVersion.version + "\n" && r.stderr.isEmpty, "\(r)")
    }

    @Test func helpListsTheSevenTools() async throws {
        let r = try await runTool("dlg", args: ["--help"])
        try #require(r.status == 0, "\(r)")
        for tool in Self.tools {
            #expect(r.stdout.contains("\n  \(tool) "), "dlg --help does not list \(tool)\n\(r)")
        }
        // No tool named: the same list, on stderr, as a usage error.
        let bare = try await runTool("dlg")
        #expect(bare.status == 64 && bare.stdout.isEmpty && bare.stderr.contains("\n  cluster "), "\(bare)")
    }

    @Test func aToolsHelpThroughDlg() async throws {
        let r = try await runTool("dlg", args: ["gen", "--help"])
        #expect(r.status == 0 && r.stdout.contains("USAGE: dlg-gen") && r.stdout.contains("--new <new>"), "\(r)")
        // The first argument may also be spelled as the link is named.
        let spelled = try await runTool("dlg", args: ["dlg-gen", "--help"])
        #expect(spelled.status == 0 && spelled.stdout == r.stdout, "\(spelled)")
    }

    @Test func anUnknownToolIsAUsageErrorNamingIt() async throws {
        let r = try await runTool("dlg", args: ["nosuch", "--config", "x.yaml"])
        #expect(r.status == 64 && r.stdout.isEmpty && r.stderr.contains("dlg: error: unknown tool \"nosuch\""), "\(r)")
    }

    /// A tool's own usage errors (ValidationError) are the same through `dlg` and through its link.
    @Test func usageErrorsAreTheToolsOwn() async throws {
        let linked = try await runTool("dlg-gen", args: ["--new", "0"])
        let direct = try await runTool("dlg", args: ["gen", "--new", "0"])
        #expect(linked.status == 64 && linked.stderr.contains("\"--new\" must be at least 1"), "\(linked)")
        #expect(direct.status == linked.status && direct.stderr == linked.stderr, "dlg gen:\n\(direct)\ndlg-gen:\n\(linked)")
    }

    /// The link `dlg-dedup` and `dlg dedup` on the same fixture (DedupTests' case-and-spaces pair): the same
    /// records, decisions and ledger.
    @Test func theLinkBehavesLikeDlgWithTheToolsName() async throws {
        let input = try Fixtures.text("dedup_case_whitespace.jsonl")
        var outputs: [(ToolResult, String)] = []
        for (tool, args) in [("dlg-dedup", [String]()), ("dlg", ["dedup"])] {
            let work = try WorkDir(label: "multicall")
            defer { work.cleanup() }
            let r = try await runTool(tool, args: args + ["--config", work.configPath], stdin: input, cwd: work.url)
            try #require(r.status == 0, "\(r)")
            #expect(try DedupTests.states(r) == ["accepted", "rejected"], "\(r)")
            outputs.append((r, try work.read("outputs/coverage_ledger.jsonl")))
        }
        let (linked, linkedLedger) = outputs[0], (direct, directLedger) = outputs[1]
        #expect(direct.stdout == linked.stdout, "dlg dedup:\n\(direct)\ndlg-dedup:\n\(linked)")
        // The ledger lines differ only in their timestamps.
        func withoutTime(_ text: String) throws -> [JSONObject] {
            try JSONL.records(text).map { var o = $0; o["timestamp"] = nil; return o }
        }
        #expect(try withoutTime(directLedger) == withoutTime(linkedLedger), "\(directLedger)\n\(linkedLedger)")
    }
}
