import Foundation
import Testing
@testable import DlgCore
#if canImport(Glibc)
import Glibc
#endif

@Suite struct DatasetAppendTests {
    static func files(_ s: Settings) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for name in DatasetLines.names {
            out[name] = (try? Files.read((s.outputDir as NSString).appendingPathComponent(name))) ?? []
        }
        return out
    }

    static func ids(_ s: Settings) throws -> [String] {
        let text = try String(contentsOfFile: (s.outputDir as NSString).appendingPathComponent("conversations_index.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { (try? JSONCodec.parse(Array($0.utf8)))?["conversation_id"]?.stringValue }
    }

    /// A project's settings (its fixture, to clean up).
    static func project() throws -> (ConfigFixture, Settings) {
        let f = try ConfigFixture("run:\n  batch_size: 1\n")
        return (f, try f.load())
    }

    /// Run r1 appended and committed its first `dialogues` dialogues, then went away.
    static func committedRun(_ s: Settings, dialogues n: Int) throws {
        let append = try DatasetAppend(settings: s, runID: "r1")
        for r in dialogues.prefix(n) { try append.add(r) }
        try append.commit()
    }

    static let dialogues: [JSONObject] = (0..<6).map {
        var r = JudgedRecords.make("d\($0)", scores: [7, 8])
        r["completed_at"] = .string("2026-01-01T00:00:0\($0)Z")
        return r
    }

    @Test func appendsInTwoCommitsGiveTheBytesOfAWholeExportInTheSameOrder() async throws {
        let (f, s) = try Self.project()
        defer { f.cleanup() }
        let append = try DatasetAppend(settings: s, runID: "r1")
        for r in Self.dialogues.prefix(2) { try append.add(r) }
        try append.commit()
        for r in Self.dialogues.dropFirst(2) { try append.add(r) }
        try append.add(Self.dialogues[0])  // already held: skipped
        try append.add(JudgedRecords.make("open", scores: [7], status: "active"))  // not completed: skipped
        try append.commit()
        #expect(append.dialogues == 6)
        let appended = Self.files(s)
        #expect(Files.exists(DatasetAppend.statePath(s)))

        let whole = try ExportSession(settings: s)
        for r in Self.dialogues { try whole.add(r) }
        _ = try await whole.finish()
        let same = Self.files(s) == appended
        #expect(same, "the appended files differ from a whole export of the same dialogues")
        #expect(!appended["turns.jsonl", default: []].isEmpty)
        // A whole export is no longer the run's appends: the commit point goes.
        #expect(!Files.exists(DatasetAppend.statePath(s)))
    }

    @Test func bytesPastTheCommitPointAreCutOnReopenSoNoLineIsDoubled() throws {
        let (f, s) = try Self.project()
        defer { f.cleanup() }
        try Self.committedRun(s, dialogues: 3)
        let committed = Self.files(s)
        // A run killed after appending, before moving the commit point: whole lines and a torn one.
        for name in DatasetLines.names {
            let path = (s.outputDir as NSString).appendingPathComponent(name)
            let fd = open(path, O_WRONLY | O_APPEND)
            let extra = Array(committed[name, default: []].prefix(40)) + Array("{\"conversation_id\":\"d3\"".utf8)
            _ = extra.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            close(fd)
        }
        let resumed = try DatasetAppend(settings: s, runID: "r1")
        let cut = Self.files(s) == committed
        #expect(cut, "the files were not cut back to the commit point")
        #expect(resumed.holds("d0") && resumed.holds("d2") && !resumed.holds("d3"))
        #expect(resumed.dialogues == 3)
        // The resumed run adds every completed dialogue; the files hold each once.
        for r in Self.dialogues { try resumed.add(r) }
        try resumed.commit()
        #expect(try Self.ids(s) == ["d0", "d1", "d2", "d3", "d4", "d5"])
    }

    @Test func rowsWrittenThroughBeforeACommitAreCutOnReopen() throws {
        let (f, s) = try Self.project()
        defer { f.cleanup() }
        try Self.committedRun(s, dialogues: 1)
        let committed = Self.files(s)
        do {
            // Rows of more than DatasetAppend.writeThrough bytes reach the files before any commit.
            let append = try DatasetAppend(settings: s, runID: "r1")
            for i in 0..<3 {
                var r = JudgedRecords.make("big\(i)", scores: [7])
                r["completed_at"] = "2026-01-01T00:00:00Z"
                var turns = r["turns"]!.arrayValue!
                var t = turns[0].objectValue!
                t["assistant_message"] = .string(String(repeating: "long answer ", count: 50_000))
                turns[0] = .object(t)
                r["turns"] = .array(turns)
                try append.add(r)
            }
            let size = (try? Files.read((s.outputDir as NSString).appendingPathComponent("turns.jsonl")).count) ?? 0
            #expect(size > committed["turns.jsonl", default: []].count, "nothing was written through before the commit")
        }  // dropped without a commit, as by a kill
        let reopened = try DatasetAppend(settings: s, runID: "r1")
        let cut = Self.files(s) == committed
        #expect(cut, "the rows written through were not cut back to the commit point")
        #expect(reopened.dialogues == 1 && !reopened.holds("big0"))
    }

    @Test func anotherRunOrNoCommitPointStartsTheFilesAfresh() throws {
        let (f, s) = try Self.project()
        defer { f.cleanup() }
        try Self.committedRun(s, dialogues: 3)
        let other = try DatasetAppend(settings: s, runID: "r2")
        #expect(other.dialogues == 0 && !other.holds("d0"))
        #expect(Self.files(s).values.allSatisfy { $0.isEmpty })
        try other.add(Self.dialogues[4])
        try other.commit()
        #expect(try Self.ids(s) == ["d4"])
    }

    @Test func anIndexLineThatIsNotARowIsRefusedNamingTheFileAndLine() throws {
        let (f, s) = try Self.project()
        defer { f.cleanup() }
        try Self.committedRun(s, dialogues: 1)
        // Same size, other bytes: the committed index no longer names its dialogues.
        let index = (s.outputDir as NSString).appendingPathComponent("conversations_index.jsonl")
        let size = try Files.read(index).count
        try Files.writeAtomically(Array(repeating: 0x78, count: size - 1) + [0x0A], to: index)
        #expect {
            _ = try DatasetAppend(settings: s, runID: "r1")
        } throws: { error in
            let message = (error as? DlgError)?.message ?? ""
            return message.contains("conversations_index.jsonl:1: conversation_id")
        }
    }
}
