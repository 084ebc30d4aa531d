// The command lines dlg-run starts its stages with (StageCommand) are the ones the tools accept: each
// stage of the loop and the judge-only pass, run on a fixture with the exact arguments dlg-run builds.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("stage command lines") struct StageCommandTests {
    /// Every command dlg-run spawns, as it spawns it.
    static let commands: [StageCommand] = StageCommand.loop(config: "config.yaml", inFlight: 8)
        + [StageCommand.judgeAgain(config: "config.yaml")]

    @Test(arguments: commands)
    func theToolAcceptsTheArgumentsTheRunGivesIt(_ command: StageCommand) async throws {
        let work = try WorkDir(label: "stage-command")
        defer { work.cleanup() }
        var command = command
        command.config = work.configPath
        let args = command.arguments(toolsDir: ToolPaths.binDir.path)
        let input = try Fixtures.text("judge_passthrough.jsonl")
        // Judge off in the example config: every stage has nothing to do for these records (or, for the
        // judge-only pass, no server is needed to prove the flags parse: a usage error would be 64).
        let r = try await runProcess(args[0], args: Array(args.dropFirst()),
                                     stdin: Data(input.utf8), cwd: work.url)
        #expect(r.status != 64, "\(args.joined(separator: " ")) is not a valid command line:\n\(r)")
        #expect(!r.stderr.contains("Unknown option") && !r.stderr.contains("Error: "), "\(r)")
    }
}

extension StageCommand: CustomTestStringConvertible {
    public var testDescription: String { arguments(toolsDir: "").joined(separator: " ") }
}
