// A dialogue bigger than the pieces its rows are written in exports the same bytes as its rows
// serialized whole.

import Foundation
import Testing
@testable import DlgCore

@Suite struct BigRecordExportTests {
    @Test func rowsWrittenInPiecesAreTheRowsSerializedWhole() async throws {
        let f = try ConfigFixture("run:\n  batch_size: 1\nsaving:\n  filters: {min_turns: 1}\n")
        defer { f.cleanup() }
        let s = try f.load()
        var r = JudgedRecords.make("big", scores: [7, 9])
        r["completed_at"] = "2026-01-01T00:00:00Z"
        // About 3 MB of answer, several times DatasetLines.chunkBytes, with characters to escape.
        let answer = String(repeating: "Line with \"quotes\", a tab\t, é and 🚲.\n", count: 80_000)
        #expect(answer.utf8.count > 8 * DatasetLines.chunkBytes)
        var turns = Record.turns(r)
        turns[1]["assistant_message"] = .string(answer)
        r["turns"] = .array(turns)

        let session = try ExportSession(settings: s)
        try session.add(r)
        _ = try await session.finish()

        let rows = DatasetRows(settings: s).rows(r)
        func lines(_ values: [JSON]) -> [UInt8] {
            var out: [UInt8] = []
            for v in values { v.write(into: &out); out.append(0x0A) }
            return out
        }
        func file(_ name: String) throws -> [UInt8] { try Files.read((s.outputDir as NSString).appendingPathComponent(name)) }
        #expect(try file("synthetic_qa.jsonl") == lines([rows.synthetic]))
        #expect(try file("turns.jsonl") == lines(rows.turns))
        #expect(try file("conversations_sharegpt.jsonl") == lines([rows.sharegpt]))
        let judged = try #require(rows.judged)
        #expect(try file("conversations_sharegpt_judged.jsonl") == lines([judged]))
        #expect(try file(QualityFilters.fileName) == lines([judged]))
        #expect(try file("conversations/big.json") == rows.conversation.prettyBytes() + [0x0A])
        let indexRow = try JSONCodec.parse(try file("conversations_index.jsonl").dropLast())
        #expect(indexRow["conversation_file"]?.stringValue?.hasSuffix("conversations/big.json") == true)
        var index = rows.index
        index["conversation_file"] = indexRow["conversation_file"]
        #expect(try file("conversations_index.jsonl") == lines([.object(index)]))
        #expect(try file("synthetic_qa.jsonl").count > 3 * answer.utf8.count, "the answer is in several columns")
    }
}
