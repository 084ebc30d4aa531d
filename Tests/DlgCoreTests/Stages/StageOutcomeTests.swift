// How a stage tool's pass ends: the exit status and the stderr line of its first problem, and the
// default number of records a stage works on at once.

@testable import DlgCore
import Testing

@Suite struct StageOutcomeTests {
    @Test func nothingWrongIsZeroAndSilent() {
        let (status, line) = StageOutcome().ending
        #expect(status == 0 && line == nil)
    }

    @Test func badLinesAlone() {
        let (status, line) = StageOutcome(badLines: 3).ending
        #expect(status == 65 && line == "3 bad input line(s) skipped")
    }

    /// dlg-dedup's store: 69 when the database is unavailable, 74 for any other failure; before bad lines.
    @Test func aStoreFailureNamesTheUndecidedRecords() {
        var outcome = StageOutcome(badLines: 2)
        outcome.storeFailure = DlgError(.unavailable, "postgres at db:5432: connection refused")
        outcome.undecided = 5
        #expect(outcome.ending.status == 69)
        #expect(outcome.ending.line == "error: postgres at db:5432: connection refused (5 record(s) passed on undecided)")
        outcome.storeFailure = DlgError(.data, "ledger.jsonl:3: not a ledger line")
        #expect(outcome.ending.status == 74)
    }

    @Test func anUnavailableServerBeatsTheStoreAndBadLines() {
        var outcome = StageOutcome(unavailable: 4, unavailableDetail: "HTTP 503", badLines: 1)
        outcome.storeFailure = DlgError(.io, "x")
        #expect(outcome.ending.status == 69)
        #expect(outcome.ending.line == "error: 4 record(s) left unchanged, the LLM server is unavailable: HTTP 503")
        outcome.unavailableWhat = "new dialogue(s) without a question"
        #expect(outcome.ending.line == "error: 4 new dialogue(s) without a question, the LLM server is unavailable: HTTP 503")
    }

    @Test func anErrorStormBeatsEverything() {
        var outcome = StageOutcome(storm: "error storm: 20 of the last 20 calls failed", unavailable: 4, badLines: 1)
        outcome.storeFailure = DlgError(.io, "x")
        #expect(outcome.ending.status == 75 && outcome.ending.line == "error: error storm: 20 of the last 20 calls failed")
    }

    @Test func theConcurrencyDefaultIsTheBatchRaisedToTheFloor() {
        #expect(StageConcurrency.llmFloor == 64)
        #expect(StageConcurrency.llmStage(given: nil, batchSize: 2) == 64)
        #expect(StageConcurrency.llmStage(given: nil, batchSize: 200) == 200)
        #expect(StageConcurrency.llmStage(given: 3, batchSize: 200) == 3)
    }
}
