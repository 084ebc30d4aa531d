// What dlg-run lets into its loop: the batch filled, languages in order, a finished dialogue making
// room, the drop-streak stop, and a resumed run picking up the journal's unfinished dialogues.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Logging
import Testing

@Suite struct RunBookTests {
    static let quiet = Logger(label: "dlg.test") { _ in SwiftLogNoOpLogHandler() }

    /// A book over `<work>/journal.jsonl` with 2 languages, 3 in flight and 2 dialogues per language.
    static func book(_ work: WorkDir, dropStreakLimit: Int = 3, judge: String = "") throws -> RunBook {
        let yaml = "run:\n  batch_size: 3\n  total_samples: 2\n  target_languages: [en, fr]\n  n_turns: 1\npersonas:\n  enabled: false\n" + judge
        try work.write("config.yaml", yaml)
        let settings = try Settings.load(path: work.path + "/config.yaml", environment: [:])
        return try RunBook(settings: settings, base: "run1", journalPath: work.path + "/journal.jsonl",
                           dropStreakLimit: dropStreakLimit, log: quiet)
    }

    static func finish(_ r: JSONObject, _ status: RecordStatus, reason: DropReason = .invalidOutput) -> JSONObject {
        var r = r
        r["status"] = .string(status.rawValue)
        if status == .dropped { r["drop_reason"] = .string(reason.rawValue) }
        return r
    }

    static func receive(_ book: RunBook, _ r: JSONObject) throws -> (again: Bool, admitted: [String]) {
        var line: [UInt8] = []
        JSON.object(r).write(into: &line)
        line.append(0x0A)
        let (again, admitted) = try book.receive(r, line: line)
        return (again, admitted.map(Record.id))
    }

    @Test func admissionsFillTheBatchLanguageByLanguage() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        let book = try Self.book(work)
        let first = try book.admissions()
        // en needs 2, so the third place goes to fr: languages overlap at their edge.
        #expect(first.map(Record.id) == ["run1-en-0000", "run1-en-0001", "run1-fr-0000"])
        #expect(first.map(Record.language) == ["en", "en", "fr"])
        #expect(book.inFlight == 3 && !book.isDone)
        #expect(try book.admissions().isEmpty, "the batch is full")
        #expect(book.journal.lines == 3, "each admitted dialogue is journaled")
        #expect(book.snapshot.inFlight == 3 && book.snapshot.target == 2)
    }

    @Test func aFinishedDialogueAdmitsANewOneAndAnUnfinishedOneGoesRoundAgain() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        let book = try Self.book(work)
        let first = try book.admissions()
        let again = try Self.receive(book, first[0])
        #expect(again.again && again.admitted.isEmpty, "still active: round again, nothing new")
        // en-0000 completes: en is then 1 completed + 1 in flight = 2, so fr gets the free place.
        let done = try Self.receive(book, Self.finish(first[0], .completed))
        #expect(!done.again && done.admitted == ["run1-fr-0001"])
        #expect(book.completedByLanguage["en"] == 1 && book.inFlight == 3)
        // A dropped en dialogue is replaced by another en one (slot 2).
        let dropped = try Self.receive(book, Self.finish(first[1], .dropped))
        #expect(!dropped.again && dropped.admitted == ["run1-en-0002"])
        #expect(book.droppedCount == 1)
        #expect(book.snapshot.completed.map { $0.0 } == ["en", "fr"])
    }

    @Test func theRunEndsWhenEveryLanguageHasItsDialogues() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        let book = try Self.book(work)
        var open = try book.admissions()
        var completed: [String] = []
        while let r = open.first {
            open.removeFirst()
            let (_, admitted) = try book.receive(Self.finish(r, .completed), line: Array((JSON.object(Self.finish(r, .completed)).serialized() + "\n").utf8))
            completed.append(Record.id(r))
            open += admitted
        }
        #expect(book.isDone)
        #expect(Set(completed) == ["run1-en-0000", "run1-en-0001", "run1-fr-0000", "run1-fr-0001"])
        #expect(book.completedPositions.map(book.journal.index.id(at:)) == ["run1-en-0000", "run1-en-0001", "run1-fr-0000", "run1-fr-0001"],
                "run order: language as configured, then slot")
    }

    @Test func theDropStreakLimitThrowsTempFail() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        let book = try Self.book(work, dropStreakLimit: 2)
        let first = try book.admissions()
        let afterOne = try Self.receive(book, Self.finish(first[0], .dropped, reason: .dedupExhausted))
        #expect(afterOne.admitted == ["run1-en-0002"])
        do {
            _ = try Self.receive(book, Self.finish(first[1], .dropped, reason: .dedupExhausted))
            Issue.record("expected a stop")
        } catch let error as DlgError {
            #expect(error.code == .tempFail)
            #expect(error.message.contains("the last 2 dialogues of language en were all dropped (2 dedup_exhausted)"), "\(error.message)")
        }
    }

    @Test func aCompletedDialogueBetweenDropsResetsTheStreak() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        let book = try Self.book(work, dropStreakLimit: 2)
        let first = try book.admissions()
        let a = try Self.receive(book, Self.finish(first[0], .dropped))
        _ = try Self.receive(book, Self.finish(first[2], .dropped))   // fr: its own streak
        _ = try Self.receive(book, Self.finish(first[1], .completed))
        let next = try #require(a.admitted.first)
        let reopened = try book.journal.record(next)
        #expect(try Self.receive(book, Self.finish(reopened, .dropped)).again == false, "en's streak restarted at the completion")
    }

    @Test func resumableGivesTheJournalsUnfinishedDialogues() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        do {
            let book = try Self.book(work)
            let first = try book.admissions()
            _ = try Self.receive(book, Self.finish(first[1], .completed))   // admits fr-0001
            var progressed = first[2]
            progressed["turns"] = [.obj(["user_message": "q?", "assistant_message": "a."])]
            _ = try Self.receive(book, progressed)
        }
        // A new process on the same journal.
        let book = try Self.book(work)
        #expect(book.inFlight == 0)
        let open = book.resumable()
        #expect(open.map(Record.id) == ["run1-en-0000", "run1-fr-0000", "run1-fr-0001"])
        #expect(Record.turns(open[1]).count == 1, "the latest state of each dialogue")
        #expect(book.inFlight == 3)
        #expect(book.completedByLanguage["en"] == 1)
        #expect(try book.admissions().isEmpty, "the batch is full again")
        // The next new en dialogue does not reuse a slot.
        _ = try Self.receive(book, Self.finish(open[0], .dropped))
        #expect(book.inFlight == 3)
        #expect(book.journal.order.contains("run1-en-0002"))
    }

    @Test func onlineConversationJudgingKeepsCompletedDialoguesInTheLoop() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        let book = try Self.book(work, judge: "judge:\n  mode: online\n  granularity: conversation\n")
        let first = try book.admissions()
        let waiting = try Self.receive(book, Self.finish(first[0], .completed))
        #expect(waiting.again, "completed without a conversation verdict goes round again")
        var judged = Self.finish(first[0], .completed)
        judged["conversation_judge"] = .obj(["score": 8])
        #expect(try Self.receive(book, judged).again == false)
        #expect(!RunBook.needsLoop(Self.finish(first[0], .completed), judgeConversations: false))
        #expect(RunBook.needsLoop(first[0], judgeConversations: false))
    }

    /// Online turn judging: a dialogue completed by its last answer whose turn the judge could not
    /// reach the server for stays in the loop (and in the journal's open records) until judged.
    @Test func onlineTurnJudgingKeepsACompletedDialogueWithAnUnjudgedTurnInTheLoop() throws {
        let work = try WorkDir(copyExamples: false, label: "runbook")
        let book = try Self.book(work, judge: "judge:\n  mode: online\n  granularity: turn\n")
        let first = try book.admissions()
        var answered = Self.finish(first[0], .completed)
        answered["turns"] = .array([.obj(["turn_index": 1, "user_message": "q?", "assistant_message": "a."])])
        #expect(try Self.receive(book, answered).again, "completed with an unjudged turn goes round again")
        var judged = answered
        judged["turns"] = .array([.obj(["turn_index": 1, "user_message": "q?", "assistant_message": "a.", "qa_judge": .obj(["score": 7])])])
        #expect(try Self.receive(book, judged).again == false)
        #expect(!RunBook.needsLoop(answered, judgeConversations: false, judgeTurns: false), "judging off or offline: done")
    }
}
