// dlg-respond: the answer stage (kb_responder).
// The root command of `dlg-respond` (or `dlg respond`), run by the multicall binary Sources/dlg.

import ArgumentParser
import DlgCLI
import DlgCore

/// `dlg-respond`: answers each accepted question from the knowledge base.
public struct DlgRespond: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-respond",
        abstract: "Answer each accepted question from the knowledge base (kb_responder).",
        discussion: """
        stdin: dialogue records (JSONL). stdout: the same records in the same order; each record with an \
        accepted pending question gets the new turn appended (and is completed when it reaches its target \
        turns). Other records pass through unchanged. The knowledge index under retrieval.persist_dir is \
        built on first use and rebuilt on its own when files or settings change.
        """)

    public init() {}

    @OptionGroup var common: CommonOptions

    public func run() async throws {
        try await ToolMain.run("dlg-respond") {
            let settings = try common.settings()
            try settings.requireAgent(.kbResponder)
            let client = LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer)
            let kb = try await KnowledgeBase.open(settings: settings, client: client, observer: WorkProgressLine(tool: "dlg-respond"))
            let log = DlgLog.logger("dlg.respond", logsDir: settings.logsDir, file: RunLayout.runLog)
            let stage = RespondStage(settings: settings, kb: kb, client: client, log: log)
            let (status, _) = try await ToolMain.runStage(
                "dlg-respond", stage: stage, concurrency: common.concurrencyOptions.forLLMStage(settings),
                options: common, client: client, health: stage.health)
            return status
        }
    }
}
