import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `logs/runs.jsonl`: one line per dlg-run that finished a run or its shard of one, with what the
/// report reads of it (`{"run_id","shard","wall_seconds","finished_at"}`), so the report reads facts
/// the run wrote for it rather than the text of `logs/run.log`. A run resumed three times has three
/// lines; the report adds their times up. A run in batch mode adds `batch: true` and, with prices, the
/// summary's `cost` (the whole run's so far, as the journal counts it: the last line says it all).
enum RunTimings {
    static func append(layout: RunLayout, runID: String, shard: RunShard?, wallSeconds: Double,
                       batch: JSONObject = JSONObject()) throws(DlgError) {
        try Files.makeDirectory(layout.logsDir)
        let path = layout.log(RunLayout.runsFile)
        var entry: JSONObject = [
            "run_id": .string(runID), "shard": shard.map { .string($0.description) } ?? .null,
            "wall_seconds": .double(wallSeconds), "finished_at": .string(Timestamps.isoZ()),
        ]
        for (k, v) in batch.pairs { entry[k] = v }
        let line = JSON.object(entry).serialized() + "\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DlgError.io("\(path): cannot open for appending: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // One write of a short line under O_APPEND: lines of processes finishing together do not mix.
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw DlgError.io("\(path): cannot append: \(String(cString: strerror(errno)))") }
    }
}
