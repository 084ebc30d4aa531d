// dlg-judge: the judge stage (qa_judge), online or offline.
// The root command of `dlg-judge` (or `dlg judge`), run by the multicall binary Sources/dlg.

import ArgumentParser
import DlgCLI
import DlgCore

/// `dlg-judge`: scores turns or whole dialogues.
public struct DlgJudge: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-judge",
        abstract: "Score turns or whole dialogues with qa_judge.",
        discussion: """
        stdin: dialogue records (JSONL). stdout: the same records in the same order, with qa_judge on each \
        answered turn (judge.granularity: turn) or conversation_judge on each completed dialogue \
        (conversation). In the pipe it does nothing unless judge.enabled and judge.mode is online; \
        --offline judges whatever it is given (the judge-only pass over a finished file).
        """)

    public init() {}

    @OptionGroup var common: CommonOptions

    @Flag(name: .customLong(StageCommand.Flag.offline), help: "Judge even when judge.mode is offline (the judge-only pass).")
    var offline = false

    @Flag(name: .customLong(StageCommand.Flag.force), help: "Judge again turns or dialogues that already have a judgement.")
    var force = false

    @Option(help: "Override judge.granularity: turn or conversation.")
    var granularity: String?

    public func validate() throws {
        if let g = granularity, JudgeGranularity(rawValue: g) == nil {
            throw ValidationError("\"--granularity\" must be turn or conversation")
        }
    }

    public func run() async throws {
        try await ToolMain.run("dlg-judge") {
            var settings = try common.settings()
            if let g = granularity.flatMap(JudgeGranularity.init) { settings.judge.granularity = g }
            let active = offline ? settings.judge.enabled || offline : settings.judge.online
            if !active {
                // Judge off: pass everything through untouched.
                let (status, _) = try await ToolMain.runStage("dlg-judge", stage: PassThrough(), concurrency: 1,
                                                              options: common, client: nil)
                return status
            }
            try settings.requireAgent(.qaJudge)
            let client = LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer)
            let log = DlgLog.logger("dlg.judge", logsDir: settings.logsDir, file: RunLayout.judgeLog)
            let stage = JudgeStage(settings: settings, caller: AgentCaller(client: client), log: log, force: force)
            let (status, _) = try await ToolMain.runStage(
                "dlg-judge", stage: stage, concurrency: common.concurrencyOptions.forLLMStage(settings),
                options: common, client: client, health: stage.health)
            return status
        }
    }
}
