import Foundation

/// What `metrics.json` is made of: the dataset's figures (`DatasetMetrics`, with the duplicate shares
/// from the runs' rejections files under the output folder) and its topic diversity, from the same
/// dialogues. The one recipe of the export's `metrics.json` and of `dlg-export metrics`, so the two
/// files are the same bytes.
struct MetricsFile {
    private var metrics: DatasetMetrics
    private var topics = TopicDiversity()

    init(settings: Settings) {
        metrics = DatasetMetrics(reasons: settings.judge.reasons, rejectionsDir: settings.outputDir)
    }

    /// A kept (completed) dialogue.
    mutating func add(_ record: JSONObject) {
        metrics.add(record)
        topics.add(record)
    }

    /// The file's JSON. `knowledge`: every chunk of the index (nil: coverage shares null); `embedder`:
    /// where topic diversity's vectors come from (nil: that figure null, with the reason).
    func json(knowledge: [(source: String, chunkIndex: Int)]?, embedder: (any QuestionEmbedder)?) async -> JSON {
        TopicDiversity.inserting(await topics.json(embedder: embedder),
                                 into: metrics.json(sourceFile: RunLayout.sharegptFile, knowledge: knowledge))
    }
}
