// The run's batch record (files, the batches made from them, their end) read back as a restarted
// process reads it, and the output and error files read into one result per custom_id.

import Foundation
import Testing
@testable import DlgCore

@Suite struct BatchRecordTests {
    @Test func aRecordReadsBackWithRetriesAndACutLastLine() throws {
        let dir = NSTemporaryDirectory() + "dlg-batch-record-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let record = BatchRecord(dir: dir)
        #expect(try record.load().isEmpty)
        try record.fileUploaded(.init(fileID: "file-1", baseURL: "http://h/v1", model: "m", ids: ["a", "b"], bytes: 10))
        try record.batchCreated("batch-1", fileID: "file-1")
        try record.fileUploaded(.init(fileID: "file-2", baseURL: "http://h/v1", model: "m", ids: ["c"], bytes: 5))
        var failed = BatchObject(.obj(["id": "batch-1", "status": "failed"]))
        try record.batchDone(failed)
        try record.batchCreated("batch-2", fileID: "file-1")
        failed = BatchObject(.obj(["id": "batch-2", "status": "completed", "output_file_id": "file-9"]))
        try record.batchDone(failed)
        // A crash in the middle of a write leaves a cut line at the end: it is skipped.
        let handle = try #require(FileHandle(forWritingAtPath: record.path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"event":"batch","batch_id":"batch-3","fi"#.utf8))
        try handle.close()
        let entries = try record.load()
        #expect(entries.map(\.fileID) == ["file-1", "file-2"])
        #expect(entries[0].ids == ["a", "b"] && entries[0].batchIDs == ["batch-1", "batch-2"])
        #expect(entries[0].status == "completed" && entries[0].outputFileID == "file-9")
        #expect(entries[1].batchIDs.isEmpty && entries[1].status == nil, "a file uploaded but never made a batch")
    }

    @Test func outputAndErrorLinesBecomeResultsByCustomID() {
        let text = """
            {"id":"r1","custom_id":"a","response":{"status_code":200,"body":{"choices":[]}},"error":null}
            {"id":"r2","custom_id":"b","response":{"status_code":500,"body":{"error":{"message":"x"}}},"error":null}
            {"id":"r3","custom_id":"c","response":null,"error":{"code":"batch_expired","message":"too late"}}
            not json

            """
        var results: [String: BatchLineResult] = [:]
        BatchOutput.parse(Array(text.utf8), into: &results)
        #expect(results.count == 3)
        if case .reply(let status, let body)? = results["a"] {
            #expect(status == 200 && String(decoding: body, as: UTF8.self) == #"{"choices":[]}"#)
        } else { Issue.record("a: \(String(describing: results["a"]))") }
        if case .reply(let status, _)? = results["b"] { #expect(status == 500) } else { Issue.record("b") }
        if case .unanswered(let why)? = results["c"] { #expect(why.contains("batch_expired")) } else { Issue.record("c") }
    }
}
