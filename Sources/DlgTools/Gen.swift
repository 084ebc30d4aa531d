// dlg-gen: the question stage (qa_generator), and the seed file migration.
// The root command of `dlg-gen` (or `dlg gen`), run by the multicall binary Sources/dlg.

import ArgumentParser
import DlgCLI
import DlgCore
import Foundation
import Logging

/// `dlg-gen`: writes the next user question of every open dialogue.
public struct DlgGen: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-gen",
        abstract: "Write the next user question for every open dialogue (qa_generator).",
        discussion: """
        stdin: dialogue records (JSONL), unless --new is given. stdout: the same records in the same order; \
        each open dialogue gets a pending user question, a question rejected by dlg-dedup is regenerated \
        (up to coverage.question_dedup_retries times, then the dialogue is dropped with \
        drop_reason dedup_exhausted). With --new N, starts N new dialogues instead of reading stdin. \
        With --migrate-seeds, converts a legacy seed topics file (upstream's seeds-migrate) and exits.
        """)

    public init() {}

    @OptionGroup var common: CommonOptions

    @Option(help: "Start this many new dialogues instead of reading stdin.")
    var new: Int?

    @Option(help: "Language of the new dialogues (default: the first of run.target_languages).")
    var language: String?

    @OptionGroup var runID: RunIDOptions

    @Option(help: "Slot of the first new dialogue in its language (conversation ids and persona cycling count from it).")
    var slotOffset: Int = 0

    @Flag(help: "Upstream's seeds-migrate: rewrite a legacy seed topics file ({topic: {variant: [questions]}}) as the versioned YAML run.seed_topics_path reads, then exit.")
    var migrateSeeds = false

    @Option(help: "With --migrate-seeds: the legacy file (default: run.seed_topics_path if JSON, else seed_topics.json beside the config).")
    var sourceFile: String?

    @Option(help: "With --migrate-seeds: where to write (default: run.seed_topics_path if YAML, else data/seeds/topics.yaml).")
    var destFile: String?

    @Flag(help: "With --migrate-seeds: replace the destination if it exists.")
    var overwrite = false

    public func validate() throws {
        if migrateSeeds && new != nil { throw ValidationError("\"--migrate-seeds\" and \"--new\" do not go together") }
        if !migrateSeeds && (sourceFile != nil || destFile != nil || overwrite) {
            throw ValidationError("\"--source-file\", \"--dest-file\" and \"--overwrite\" go with \"--migrate-seeds\"")
        }
        if let n = new, n < 1 { throw ValidationError("\"--new\" must be at least 1") }
        if new == nil && (language != nil || runID.runID != nil) {
            throw ValidationError("\"--language\" and \"--run-id\" go with \"--new\"")
        }
    }

    public func run() async throws {
        try await ToolMain.run("dlg-gen") {
            let settings = try common.settings()
            if migrateSeeds { return try migrate(settings) }
            try settings.requireAgent(.qaGenerator)
            let client = LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer)
            let kb = try await KnowledgeBase.open(settings: settings, client: client, observer: WorkProgressLine(tool: "dlg-gen"))
            let log = DlgLog.logger("dlg.gen", logsDir: settings.logsDir, file: RunLayout.runLog)
            let stage = GenStage(settings: settings, kb: kb, caller: AgentCaller(client: client), log: log)
            let concurrency = common.concurrencyOptions.forLLMStage(settings)
            guard let n = new else {
                return try await ToolMain.runStage("dlg-gen", stage: stage, concurrency: concurrency,
                                                   options: common, client: client, health: stage.health).0
            }
            let (personas, warning) = PersonaPool.load(settings: settings)
            if let warning { log.warning("\(warning)") }
            let factory = NewDialogues(settings: settings, personas: personas)
            let run = runID.chosen(settings), lang = language ?? settings.run.targetLanguages[0]
            let records = (0..<n).map { factory.make(run: run, language: lang, slot: slotOffset + $0) }
            _ = try await StageRunner.runRecords(stage, records: records, output: FDWriter(), concurrency: concurrency,
                                                 observer: StageReporter(tool: "dlg-gen") { 0 })
            var outcome = StageOutcome(client: client, health: stage.health, badLines: 0)
            outcome.unavailableWhat = "new dialogue(s) without a question"
            return ToolMain.end("dlg-gen", outcome)
        }
    }

    /// `--migrate-seeds`: the legacy seed file rewritten; says what it did on stderr.
    func migrate(_ settings: Settings) throws -> Int32 {
        let done = try SeedMigration.migrate(settings: settings, sourceFile: sourceFile, destFile: destFile, overwrite: overwrite)
        StandardError.write(done.passedThrough
            ? "dlg-gen: \(done.source) is already structured; copied to \(done.destination)"
            : "dlg-gen: \(done.questions) question(s) in \(done.topics) topic(s), \(done.variants) variant(s): \(done.source) -> \(done.destination)")
        return 0
    }
}
