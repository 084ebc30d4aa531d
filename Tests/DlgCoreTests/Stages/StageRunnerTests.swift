// The runner every stage tool shares: order, concurrency, bad lines, stopping. The stages here are
// made up (a sleep and a mark), so no server is needed.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// Sleeps the record's `delay_ms`, then marks it `done`; records with `skip` need no work.
struct DelayStage: RecordStage {
    func needsWork(_ record: JSONObject) -> Bool { record["skip"] == nil }
    func process(_ record: JSONObject) async -> JSONObject {
        let ms = record["delay_ms"]?.intValue ?? 0
        if ms > 0 { try? await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000) }
        var r = record
        r["done"] = true
        if r["drop"] != nil { Record.drop(&r, reason: .invalidOutput) }
        return r
    }
}

/// Everything the runner reported.
final class RecordingObserver: StageObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var _skipped: [(String, Int, String)] = []
    private var _started = 0
    private var _finished: [Bool] = []
    func skippedBadLine(source: String, line: Int, problem: String) { lock.withLock { _skipped.append((source, line, problem)) } }
    func started() { lock.withLock { _started += 1 } }
    func finished(dropped: Bool) { lock.withLock { _finished.append(dropped) } }
    var skipped: [(String, Int, String)] { lock.withLock { _skipped } }
    var startedCount: Int { lock.withLock { _started } }
    var finished: [Bool] { lock.withLock { _finished } }
}

/// A `stop` that turns true after it was asked `after` times.
final class StopAfter: @unchecked Sendable {
    private let lock = NSLock()
    private var asked = 0
    let after: Int
    init(_ after: Int) { self.after = after }
    func ask() -> Bool { lock.withLock { asked += 1; return asked > after } }
}

@Suite struct StageRunnerTests {
    @Test func orderedOutputKeepsInputOrderUnderConcurrency() async throws {
        var rng = SeededRandom("stage-order")
        let ids = (0..<40).map { String(format: "c-%02d", $0) }
        let files = try StageFiles(ids.map { recordLine($0, ["delay_ms": .int(Int(rng.next() % 25))]) })
        let observer = RecordingObserver()
        let summary = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 8,
                                                strict: false, observer: observer)
        #expect(try files.outputIDs() == ids)
        #expect(try files.outputLines().allSatisfy { try JSONCodec.parse($0)["done"] == true })
        #expect(summary.records == 40 && summary.worked == 40 && summary.badLines == 0 && summary.dropped == 0)
        #expect(observer.startedCount == 40 && observer.finished.count == 40)
    }

    @Test func unorderedLetsAFinishedRecordOvertake() async throws {
        let files = try StageFiles([recordLine("slow", ["delay_ms": 800]), recordLine("fast"), recordLine("also-fast", ["delay_ms": 20])])
        let summary = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 3,
                                                strict: false, mode: .init(ordered: false))
        #expect(try files.outputIDs() == ["fast", "also-fast", "slow"])
        #expect(summary.worked == 3)
    }

    @Test func aBadLineIsReportedWithItsNumberAndSkipped() async throws {
        let files = try StageFiles([recordLine("c-1"), "not json", recordLine("c-3"), #"{"conversation_id":"c-4","turns":[]}"#,
                                    "[1]", recordLine("c-6")])
        let observer = RecordingObserver()
        let summary = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 2,
                                                strict: false, observer: observer)
        #expect(try files.outputIDs() == ["c-1", "c-3", "c-6"])
        #expect(summary.records == 6 && summary.badLines == 3 && summary.worked == 3)
        let skipped = observer.skipped
        #expect(skipped.map { $0.1 } == [2, 4, 5])
        #expect(skipped.allSatisfy { $0.0 == "input.jsonl" })
        #expect(skipped.first?.2.hasPrefix("malformed JSON") == true)
        #expect(skipped.dropFirst().first?.2 == #""status" is missing"#)
        #expect(skipped.last?.2.hasPrefix("a record must be a JSON object") == true)
    }

    @Test func strictMakesABadLineAThrownDataError() async throws {
        let files = try StageFiles([recordLine("c-1"), recordLine("c-2"), #"{"conversation_id":"a/b","status":"active","turns":[],"target_turns":1}"#,
                                    recordLine("c-4")])
        let observer = RecordingObserver()
        do {
            _ = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 1,
                                          strict: true, observer: observer)
            Issue.record("expected an error")
        } catch let error as DlgError {
            #expect(error.code == .data)
            #expect(error.message.hasPrefix("input.jsonl:3: \"conversation_id\" must not contain"), "\(error.message)")
        }
        #expect(observer.skipped.isEmpty, "strict: thrown, not reported as skipped")
        #expect(try !files.outputIDs().contains("c-4"), "nothing after the bad line is started")
    }

    @Test func blankLinesAreSkippedAndUntouchedRecordsPassByteForByte() async throws {
        let untouched = #"{"conversation_id" : "keep",  "status":"completed","turns":[],"target_turns":1, "skip":true}"#
        let files = try StageFiles([recordLine("c-1"), "", "   \t", untouched, recordLine("c-2")])
        let summary = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 4,
                                                strict: true)
        let lines = try files.outputLines()
        #expect(lines.count == 3)
        #expect(lines[1] == untouched, "written back as it came")
        #expect(summary.records == 3 && summary.worked == 2 && summary.badLines == 0)
    }

    @Test func droppedRecordsAreCounted() async throws {
        let files = try StageFiles([recordLine("c-1"), recordLine("c-2", ["drop": true]), recordLine("c-3")])
        let observer = RecordingObserver()
        let summary = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 2,
                                                strict: false, observer: observer)
        #expect(summary.dropped == 1)
        #expect(observer.finished.filter { $0 }.count == 1)
        #expect(try files.outputLines().map { Record.status(try #require(try JSONCodec.parse($0).objectValue)) } == [.active, .dropped, .active])
    }

    @Test func stopHaltsAnUnorderedStage() async throws {
        let ids = (0..<50).map { "c-\($0)" }
        let files = try StageFiles(ids.map { recordLine($0) })
        let stop = StopAfter(3)
        let summary = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 2,
                                                strict: false, mode: .init(ordered: false, stop: { stop.ask() }))
        // The records not started stay with whoever feeds the stage (dlg-run's journal): none is written.
        #expect(Set(try files.outputIDs()) == ["c-0", "c-1", "c-2"])
        #expect(summary.worked == 3 && summary.records == 3)
    }

    @Test func stopMakesAnOrderedStagePassTheRestThrough() async throws {
        let ids = (0..<10).map { "c-\($0)" }
        let files = try StageFiles(ids.map { recordLine($0) })
        let stop = StopAfter(2)
        let summary = try await StageRunner.run(DelayStage(), input: files.input, output: files.output, concurrency: 2,
                                                strict: false, mode: .init(ordered: true, stop: { stop.ask() }))
        let lines = try files.outputLines()
        #expect(try files.outputIDs() == ids, "every record comes out, in order")
        // The first two: lines are taken in input order whichever parse task ends first (a fresh clone's
        // loaded CI run once started a later line's record first).
        #expect(try lines.map { try JSONCodec.parse($0)["done"] == true } == [true, true] + Array(repeating: false, count: 8))
        #expect(summary.worked == 2 && summary.records == 10)
    }

    @Test func recordsMadeInMemoryGoThroughTheSameRunner() async throws {
        let files = try StageFiles([])
        let records = (0..<5).map { i -> JSONObject in
            ["conversation_id": .string("m-\(i)"), "status": "active", "turns": [], "target_turns": 1, "delay_ms": .int(5 - i)]
        }
        let summary = try await StageRunner.runRecords(DelayStage(), records: records, output: files.output, concurrency: 3)
        #expect(try files.outputIDs() == ["m-0", "m-1", "m-2", "m-3", "m-4"])
        #expect(summary.worked == 5)
    }
}
