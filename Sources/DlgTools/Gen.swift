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

    @Option(help: "Run id of the new dialogues (default: run.run_id, else a random id).")
    var runId: String?

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
        if new == nil && (language != nil || runId != nil) {
            throw ValidationError("\"--language\" and \"--run-id\" go with \"--new\"")
        }
        if let id = runId, let problem = SafeID.problem(id) { throw ValidationError("\"--run-id\" \(problem)") }
    }

    public func run() async throws {
        try await ToolMain.run("dlg-gen") {
            let settings = try common.settings()
            if migrateSeeds {
                let done = try SeedMigration.migrate(settings: settings, sourceFile: sourceFile, destFile: destFile,
                                                     overwrite: overwrite)
                StandardError.write(done.passedThrough
                    ? "dlg-gen: \(done.source) is already structured; copied to \(done.destination)"
                    : "dlg-gen: \(done.questions) question(s) in \(done.topics) topic(s), \(done.variants) variant(s): \(done.source) -> \(done.destination)")
                return 0
            }
            try settings.requireAgent(.qaGenerator)
            let client = LLMClient(logsDir: settings.logsDir, layer: settings.llmLayer)
            let kb = try await KnowledgeBase.open(settings: settings, client: client, observer: WorkProgressLine(tool: "dlg-gen"))
            let log = DlgLog.logger("dlg.gen", logsDir: settings.logsDir, file: "run.log")
            let stage = GenStage(settings: settings, kb: kb, caller: AgentCaller(client: client), log: log)
            let concurrency = common.concurrency ?? max(64, settings.run.batchSize)
            if let n = new {
                let (personas, warning) = PersonaPool.load(settings: settings)
                if let warning { log.warning("\(warning)") }
                let run = runId ?? RunIDs.configured(resumeRunID: settings.run.resumeRunID, runID: settings.run.runID)
                    ?? RunIDs.random()
                let factory = NewDialogues(settings: settings, personas: personas)
                let lang = language ?? settings.run.targetLanguages[0]
                let records = (0..<n).map { factory.make(run: run, language: lang, slot: slotOffset + $0) }
                _ = try await StageRunner.runRecords(stage, records: records, output: FDWriter(), concurrency: concurrency,
                                                     observer: StageReporter(tool: "dlg-gen") { 0 })
                if let storm = client.storm.tripped {
                    StandardError.write("dlg-gen: error: \(storm)")
                    return DlgError.Code.tempFail.rawValue
                }
                if stage.health.unavailableCount > 0 {
                    StandardError.write("dlg-gen: error: \(stage.health.unavailableCount) new dialogue(s) without a question, the LLM server is unavailable: \(stage.health.lastDetail)")
                    return DlgError.Code.unavailable.rawValue
                }
                return 0
            }
            let (status, _) = try await ToolMain.runStage("dlg-gen", stage: stage, concurrency: concurrency,
                                                          options: common, client: client, health: stage.health)
            return status
        }
    }
}
