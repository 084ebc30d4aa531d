// dlg-export metrics: metrics.json for a finished run, without writing the dataset files again.

import ArgumentParser
import DlgCLI
import DlgCore

struct ExportMetrics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Write saving.output_dir/metrics.json for a finished run, from its store (docs/metrics.md).",
        discussion: """
        The run's completed dialogues, read from the database with store.backend: postgres, else from \
        run_state/<run_id>/journal.jsonl, give the same figures as its dataset export writes; the dataset \
        files are left as they are. stdout: a one-line JSON summary.
        """)

    @OptionGroup var config: ConfigOptions

    @Option(help: "The run to measure (default: run.resume_run_id, then run.run_id, else the last run).")
    var runID: String?

    @Option(help: ArgumentHelp("An OpenAI-compatible /v1 URL to take topic diversity's embeddings from, instead of kb_responder's endpoint (no API key is sent).",
                               valueName: "url"))
    var embeddingsURL: String?

    @Option(help: ArgumentHelp("The model to ask --embeddings-url for (default: retrieval.embedding_model).", valueName: "name"))
    var embeddingModel: String?

    func validate() throws { try RunIDOptions.check(runID) }

    func run() async throws {
        try await ToolMain.run("dlg-export") {
            let settings = try config.settings()
            let embedder = try embeddingsURL.map { (url) throws(DlgError) in
                try EndpointQuestionEmbedder.at(url, model: embeddingModel ?? settings.retrieval.embeddingModel, settings: settings)
            }
            let done = try await RunMetrics.write(settings: settings, runID: runID, embedder: embedder)
            try printSummary(.obj(["metrics": .string(done.path), "run_id": .string(done.runID), "dialogues": .int(done.dialogues)]))
            return 0
        }
    }
}
