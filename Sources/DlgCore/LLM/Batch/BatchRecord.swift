import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The run's record of what it sent to the provider's batch API: one JSONL file at run level
/// (`run_state/<run_id>/batches/batches.jsonl`, shared by the stages), never per dialogue. Each
/// event is one line written with a single `write(2)` to a file opened `O_APPEND`, so the stages'
/// lines never interleave. A file is recorded once uploaded (with its requests' `custom_id`s), before
/// its batch is created: a process killed between the two finds the file again and the batch made
/// from it (or makes it), and submits no request twice.
final class BatchRecord: @unchecked Sendable {
    /// One uploaded file of requests and the batches made from it, as the record holds them.
    struct Entry: Sendable {
        var fileID: String
        var baseURL: String
        var model: String
        var ids: [String]
        var bytes: Int
        /// Batches created from the file, latest last (a batch that failed as a whole is retried once).
        var batchIDs: [String] = []
        /// The last batch's final status, once known.
        var status: String?
        var outputFileID: String?
        var errorFileID: String?
    }

    let dir: String
    let path: String
    /// The run's rows in PostgreSQL instead of the file (`store.backend: postgres`), opened on first use.
    private let databaseRun: (dsn: String, runID: String)?
    private var database: PostgresBatchEvents?
    private let lock = NSLock()

    init(dir: String) {
        self.dir = dir
        path = (dir as NSString).appendingPathComponent("batches.jsonl")
        databaseRun = nil
    }

    /// The record of `location`: a folder, or `postgres:<run_id>` (the rows of that run in the store at `dsn`).
    init(location: String, dsn: String?) {
        if location.hasPrefix(Self.postgresPrefix), let dsn, !dsn.isEmpty {
            databaseRun = (dsn, String(location.dropFirst(Self.postgresPrefix.count)))
            dir = ""
            path = "postgres run \(location.dropFirst(Self.postgresPrefix.count))"
        } else {
            databaseRun = nil
            dir = location
            path = (location as NSString).appendingPathComponent("batches.jsonl")
        }
    }

    static let postgresPrefix = "postgres:"

    private func connected() throws(DlgError) -> PostgresBatchEvents? {
        guard let run = databaseRun else { return nil }
        if let database { return database }
        let opened = try PostgresBatchEvents(dsn: run.dsn, runID: run.runID)
        database = opened
        return opened
    }

    /// Every file in the record, in the order uploaded.
    func load() throws(DlgError) -> [Entry] {
        let lines: [ArraySlice<UInt8>]
        lock.lock()
        defer { lock.unlock() }
        if let db = try connected() {
            lines = try db.lines().map { $0[...] }
        } else {
            guard Files.exists(path) else { return [] }
            lines = try Files.read(path).split(separator: 0x0A)
        }
        var entries: [Entry] = []
        var byFile: [String: Int] = [:]
        var byBatch: [String: Int] = [:]
        for line in lines {
            // A line cut by a crash mid-write is the last one and holds nothing to resume.
            guard let e = try? JSONCodec.parse(line), let event = e["event"]?.stringValue else { continue }
            switch event {
            case "file":
                guard let file = e["file_id"]?.stringValue else { continue }
                byFile[file] = entries.count
                entries.append(Entry(fileID: file, baseURL: e["base_url"]?.stringValue ?? "", model: e["model"]?.stringValue ?? "",
                                     ids: (e["ids"]?.arrayValue ?? []).compactMap(\.stringValue), bytes: e["bytes"]?.intValue ?? 0))
            case "batch":
                guard let file = e["file_id"]?.stringValue, let batch = e["batch_id"]?.stringValue, let i = byFile[file] else { continue }
                entries[i].batchIDs.append(batch)
                entries[i].status = nil
                byBatch[batch] = i
            case "done":
                guard let batch = e["batch_id"]?.stringValue, let i = byBatch[batch], entries[i].batchIDs.last == batch else { continue }
                entries[i].status = e["status"]?.stringValue
                entries[i].outputFileID = e["output_file_id"]?.stringValue
                entries[i].errorFileID = e["error_file_id"]?.stringValue
            default:
                continue
            }
        }
        return entries
    }

    func fileUploaded(_ entry: Entry) throws(DlgError) {
        try append(JSON.obj(["event": "file", "file_id": .string(entry.fileID), "base_url": .string(entry.baseURL),
                             "model": .string(entry.model), "bytes": .int(entry.bytes), "ids": JSON(entry.ids),
                             "at": .double(Date().timeIntervalSince1970.rounded())]))
    }

    func batchCreated(_ batchID: String, fileID: String) throws(DlgError) {
        try append(JSON.obj(["event": "batch", "batch_id": .string(batchID), "file_id": .string(fileID),
                             "at": .double(Date().timeIntervalSince1970.rounded())]))
    }

    func batchDone(_ batch: BatchObject) throws(DlgError) {
        try append(JSON.obj(["event": "done", "batch_id": .string(batch.id), "status": .string(batch.status),
                             "output_file_id": JSON(batch.outputFileID), "error_file_id": JSON(batch.errorFileID),
                             "completed": .int(batch.completed), "failed": .int(batch.failed)]))
    }

    private func append(_ event: JSON) throws(DlgError) {
        var line = event.compactBytes()
        line.append(0x0A)
        lock.lock()
        defer { lock.unlock() }
        if let db = try connected() { return try db.append(line) }
        if !Files.exists(dir) { try Files.makeDirectory(dir) }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DlgError(.io, "\(path): cannot open the batch record: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        // Recorded before the next step depends on it (a batch is created only once its file is on disk).
        guard written == line.count, fsync(fd) == 0 else {
            throw DlgError(.io, "\(path): cannot write the batch record: \(String(cString: strerror(errno)))")
        }
    }
}
