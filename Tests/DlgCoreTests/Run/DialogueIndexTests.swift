// The journal's index: a fixed-size entry per dialogue, the totals kept as dialogues finish, ids
// found without a String per dialogue, the run state file streamed from it (byte for byte what the
// whole JSON tree wrote), and compaction to the latest line of each dialogue.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Logging
import Testing

@Suite struct DialogueIndexTests {
    static let quiet = Logger(label: "dlg.test") { _ in SwiftLogNoOpLogHandler() }

    static func settings(_ work: WorkDir) throws -> Settings {
        let yaml = "run:\n  batch_size: 3\n  total_samples: 5\n  target_languages: [fr, en]\n  n_turns: 2\npersonas:\n  enabled: false\n"
        try work.write("config.yaml", yaml)
        return try Settings.load(path: work.path + "/config.yaml", environment: [:])
    }

    static func book(_ work: WorkDir) throws -> RunBook {
        try RunBook(settings: settings(work), base: "run1", journalPath: work.path + "/journal.jsonl",
                    dropStreakLimit: 100, log: quiet)
    }

    /// The next state of a dialogue, a function of its state and slot only: a first turn, then
    /// completed with two judged turns (a non-integer score among them) and a conversation verdict,
    /// or dropped (every third slot).
    static func advance(_ r: JSONObject) -> JSONObject {
        var r = r
        let slot = r["slot"]?.intValue ?? 0
        let turn: (Int) -> JSON = { i in .obj(["turn_index": .int(i), "user_message": "q", "assistant_message": "a",
                                               "qa_judge": .obj(["score": .double(Double(5 + (slot + i) % 5) + (i == 2 ? 0.25 : 0))])]) }
        func usage(_ n: Int) -> JSON {
            .obj(["prompt_tokens": .int(n * (slot + 1)), "completion_tokens": .int(n), "requests": .int(n),
                  "by_agent": .obj(["qa_generator": .obj(["prompt_tokens": .int(n * slot), "completion_tokens": .int(n), "requests": .int(n)]),
                                    "kb_responder": .obj(["prompt_tokens": .int(n), "completion_tokens": 0, "requests": 1])])])
        }
        if Record.turns(r).isEmpty {
            r["turns"] = .array([turn(1)])
            r["usage"] = usage(1)
        } else if slot % 3 == 2 {
            r["status"] = "dropped"
            r["drop_reason"] = slot % 2 == 0 ? "dedup_exhausted" : "invalid_output"
            r["usage"] = usage(2)
        } else {
            r["status"] = "completed"
            r["turns"] = .array([turn(1), turn(2)])
            r["conversation_judge"] = .obj(["score": .int(slot % 10)])
            r["usage"] = usage(3)
        }
        return r
    }

    static func line(_ r: JSONObject) -> [UInt8] { Array((JSON.object(r).serialized() + "\n").utf8) }

    /// Runs the book's dialogues first in, first out, until done or `steps` states came back.
    static func drive(_ book: RunBook, _ open: [JSONObject], steps: Int = .max) throws {
        var queue = open
        var n = 0
        while !queue.isEmpty && n < steps {
            let next = advance(queue.removeFirst())
            let (again, admitted) = try book.receive(next, line: line(next))
            if again { queue.append(next) }
            queue += admitted
            n += 1
        }
    }

    static func describe(_ t: RunTotals) -> String {
        let agents = t.usageByAgent.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.json.serialized())" }
        return "completed \(t.completed.sorted { $0.key < $1.key }) dropped \(t.dropped.sorted { $0.key < $1.key }) turns \(t.turns) "
            + "scores \(t.judgeScoreSum)/\(t.judgeScoreCount) mean \(t.meanJudgeScore.map { "\($0)" } ?? "-") "
            + "usage \(t.usage.json.serialized()) \(agents)"
    }

    /// The latest record of each dialogue in a JSONL journal, in first-seen order (read the plain way).
    static func latest(_ path: String) throws -> [JSONObject] {
        var order: [String] = []
        var byID: [String: JSONObject] = [:]
        for l in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let r = try #require(try JSONCodec.parse(String(l)).objectValue)
            if byID.updateValue(r, forKey: Record.id(r)) == nil { order.append(Record.id(r)) }
        }
        return order.map { byID[$0]! }
    }

    /// What `RunTotals.of` computed before the index: every finished dialogue's summary, in run order.
    static func oldTotals(_ finished: [JSONObject]) -> RunTotals {
        var totals = RunTotals()
        var scores: [Double] = []
        for r in finished {
            switch Record.status(r) {
            case .completed:
                totals.completed[Record.language(r), default: 0] += 1
                totals.turns += Record.turns(r).count
                scores += Record.turns(r).compactMap { $0["qa_judge"]?["score"]?.doubleValue }
                if let s = r["conversation_judge"]?["score"]?.doubleValue { scores.append(s) }
            case .dropped: totals.dropped[r["drop_reason"]?.stringValue ?? "unknown", default: 0] += 1
            case .active: break
            }
            totals.usage += TokenUsage(json: r["usage"])
            for (agent, u) in TokenUsage.byAgent(r["usage"]) { totals.usageByAgent[agent, default: TokenUsage()] += u }
        }
        totals.judgeScoreSum = scores.reduce(0, +)
        totals.judgeScoreCount = scores.count
        return totals
    }

    /// Old `RunBook.sorted`: language as configured (others last), then slot, a stable sort.
    static func oldSorted(_ records: [JSONObject], languages: [String]) -> [JSONObject] {
        let rank = Dictionary(languages.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let slot: (JSONObject) -> Int = { $0["slot"]?.intValue ?? $0["index"]?.intValue ?? 0 }
        return records.enumerated().sorted {
            let (a, b) = (rank[Record.language($0.element)] ?? Int.max, rank[Record.language($1.element)] ?? Int.max)
            if a != b { return a < b }
            return slot($0.element) != slot($1.element) ? slot($0.element) < slot($1.element) : $0.offset < $1.offset
        }.map(\.element)
    }

    @Test func aResumedRunReadsTheSameTotalsAndOrderAsTheUninterruptedOne() throws {
        let whole = try WorkDir(copyExamples: false, label: "index")
        let uninterrupted = try Self.book(whole)
        try Self.drive(uninterrupted, try uninterrupted.admissions())
        #expect(uninterrupted.isDone)
        let expected = Self.describe(uninterrupted.totals)
        let index = uninterrupted.journal.index
        let order = uninterrupted.finishedPositions.map(index.id(at:))
        #expect(order.first == "run1-fr-0000" && order.last?.hasPrefix("run1-en-") == true, "languages as configured: \(order)")
        // The totals kept as dialogues finished are what the old code computed from every summary.
        let finished = Self.oldSorted(try Self.latest(whole.path + "/journal.jsonl"), languages: ["fr", "en"])
        #expect(Self.describe(Self.oldTotals(finished)) == expected)
        #expect(order == finished.map(Record.id))
        #expect(uninterrupted.totals.judgeScoreCount > 0 && uninterrupted.totals.dropped.count == 2, "\(expected)")

        // The same run stopped three times, each time resumed by a new process on the same journal.
        let stopped = try WorkDir(copyExamples: false, label: "index")
        var book = try Self.book(stopped)
        try Self.drive(book, try book.admissions(), steps: 7)
        for steps in [5, 9, Int.max] {
            book = try Self.book(stopped)
            try Self.drive(book, book.resumable() + book.admissions(), steps: steps)
        }
        #expect(book.isDone)
        #expect(Self.describe(book.totals) == expected)
        #expect(book.finishedPositions.map(book.journal.index.id(at:)) == order)
        // And a process that only reads the finished journal.
        let reread = try Self.book(stopped)
        #expect(Self.describe(reread.totals) == expected)
        #expect(reread.completedByLanguage == uninterrupted.completedByLanguage)
        #expect(reread.droppedByReason == uninterrupted.droppedByReason && reread.usageByAgent == uninterrupted.usageByAgent)
    }

    /// A fixture journal with what the index must keep apart: ids not of the `<prefix><slot>` form,
    /// an `index` that is not the slot, drop reasons that are not strings, escaped newlines, a
    /// language not configured, superseded states.
    static let fixture: [String] = [
        #"{"conversation_id":"run1-en-0000","language":"en","slot":0,"index":0,"target_turns":2,"status":"active","turns":[]}"#,
        #"{"conversation_id":"run1-fr-0001","language":"fr","slot":1,"index":1,"target_turns":3,"status":"active","turns":[]}"#,
        #"{"conversation_id":"c-7","language":"en","slot":7,"target_turns":2,"status":"dropped","drop_reason":{"why":"odd"},"turns":[{}]}"#,
        #"{"conversation_id":"run1-en-0000","language":"en","slot":0,"index":0,"target_turns":2,"status":"completed","turns":[{"qa_judge":{"score":7}},{}],"usage":{"prompt_tokens":5,"completion_tokens":2,"requests":2}}"#,
        #"{"conversation_id":"run1-de-10000","language":"de","slot":10000,"index":"x","target_turns":1,"status":"dropped","drop_reason":"line\nbreak \"quoted\"","turns":[]}"#,
        #"{"conversation_id":"run1-fr-00002","language":"fr","slot":2,"target_turns":2,"status":"completed","turns":[{},{}]}"#,
        #"{"conversation_id":"run1-fr-0001","language":"fr","slot":1,"index":1,"target_turns":3,"status":"active","turns":[{"user_message":"é ü"}]}"#,
        #"{"conversation_id":"x","language":"en","target_turns":1,"status":"active","turns":[]}"#,
        #"{"conversation_id":"run1-fr-0001","language":"fr","slot":1,"index":1,"target_turns":3,"status":"dropped","drop_reason":"dedup_exhausted","turns":[{}]}"#,
    ]

    static func writeFixture(_ work: WorkDir) throws -> String {
        try work.write("journal.jsonl", fixture.joined(separator: "\n") + "\n")
        return work.path + "/journal.jsonl"
    }

    @Test func theStateFileIsWhatTheWholeTreeWrote() throws {
        let work = try WorkDir(copyExamples: false, label: "index")
        let settings = try Self.settings(work)
        let path = try Self.writeFixture(work)
        let journal = try RunJournal(path: path, keep: { Record.status($0) == .active })
        let index = journal.index
        #expect(index.count == 6 && index.oddIDCount == 3, "c-7, run1-fr-00002 and x are kept as Strings")
        let orchestrator = RunOrchestrator(settings: settings, configPath: work.path + "/config.yaml", toolsDir: work.path)
        let positions = index.sorted(Array(0..<index.count), languages: settings.run.targetLanguages)
        let statePath = work.path + "/state.json"
        try orchestrator.writeState(statePath, base: "run1", status: "in_progress", index: index, positions: positions)
        let written = try String(contentsOfFile: statePath, encoding: .utf8)

        // The old code: a DialogueSummary per dialogue, then the whole tree, pretty-printed.
        let old = Self.oldSorted(try Self.latest(path), languages: settings.run.targetLanguages).map { r -> JSON in
            .obj(["conversation_index": r["index"] ?? 0, "conversation_id": .string(Record.id(r)), "language": .string(Record.language(r)),
                  "target_n_turns": .int(Record.targetTurns(r)), "status": .string(Record.status(r).rawValue),
                  "drop_reason": r["drop_reason"] ?? .null, "n_turns": .int(Record.turns(r).count)])
        }
        let updated = try #require(try JSONCodec.parse(written)["updated_at"])
        let tree = JSON.obj([
            "run_id": "run1", "status": "in_progress", "updated_at": updated,
            "n_turns": .int(settings.run.maxTurns), "batch_size": .int(settings.run.batchSize),
            "target_languages": JSON(settings.run.targetLanguages), "total_samples": .int(settings.run.totalSamples),
            "conversations": .array(old),
        ])
        #expect(written == tree.pretty() + "\n")
        #expect(written.contains(#""drop_reason": "line\nbreak \"quoted\"""#))

        // No dialogue: the empty array as pretty() writes it.
        try orchestrator.writeState(statePath, base: "run1", status: "completed", index: index, positions: [])
        let empty = try String(contentsOfFile: statePath, encoding: .utf8)
        var emptyTree = tree
        emptyTree["status"] = "completed"
        emptyTree["updated_at"] = try #require(try JSONCodec.parse(empty)["updated_at"])
        emptyTree["conversations"] = .array([])
        #expect(empty == emptyTree.pretty() + "\n")
    }

    @Test func aJournalWithSupersededLinesCompactsToTheSameFile() throws {
        let work = try WorkDir(copyExamples: false, label: "index")
        let path = try Self.writeFixture(work)
        let keep: (JSONObject) -> Bool = { Record.status($0) == .active }
        let journal = try RunJournal(path: path, keep: keep)
        let before = Self.describe(journal.index.totals)
        // What compaction must leave: the latest line of each dialogue, in first-seen order, as it was.
        var order: [String] = []
        var latestLine: [String: String] = [:]
        for l in Self.fixture {
            let id = Record.id(try #require(try JSONCodec.parse(l).objectValue))
            if latestLine.updateValue(l, forKey: id) == nil { order.append(id) }
        }
        let expected = order.map { latestLine[$0]! + "\n" }.joined()
        try journal.compact()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == expected)
        #expect(journal.lines == 6 && journal.order == order)
        #expect(Self.describe(journal.index.totals) == before, "compaction leaves the totals")
        for p in 0..<journal.index.count {
            #expect(JSON.object(try journal.record(at: p)).serialized() + "\n" == latestLine[order[p]]! + "\n",
                    "read back through the new offsets: \(order[p])")
        }
        let reopened = try RunJournal(path: path, keep: keep)
        #expect(Self.describe(reopened.index.totals) == before && reopened.order == order)
        #expect(before.contains("completed [(key: \"en\", value: 1), (key: \"fr\", value: 1)]") && before.contains("scores 7.0/1"), "\(before)")
        // Compacting again changes nothing.
        try reopened.compact()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == expected)
    }

    /// A finished dialogue that comes back (its state superseded: a resumed run that judges again)
    /// leaves the totals, then counts once more when it finishes again.
    @Test func aFinishedDialogueThatComesBackLeavesTheTotals() throws {
        let work = try WorkDir(copyExamples: false, label: "index")
        let path = work.path + "/journal.jsonl"
        let keep: (JSONObject) -> Bool = { Record.status($0) == .active }
        let j = try RunJournal(path: path, keep: keep)
        var r = JSONObject([("conversation_id", "run1-en-0003"), ("language", "en"), ("slot", 3), ("status", "completed"),
                            ("turns", .array([.obj(["qa_judge": .obj(["score": 6])])])),
                            ("usage", .obj(["prompt_tokens": 4, "completion_tokens": 1, "requests": 1,
                                            "by_agent": .obj(["qa_judge": .obj(["prompt_tokens": 4, "completion_tokens": 1, "requests": 1])])]))])
        try j.append(r)
        #expect(j.index.totals.completed == ["en": 1] && j.index.totals.usage.promptTokens == 4)
        r["status"] = "active"
        try j.append(r)
        #expect(j.index.totals.completed.isEmpty && j.index.totals.turns == 0 && j.index.totals.judgeScoreCount == 0)
        #expect(j.index.totals.usage == TokenUsage() && j.index.totals.usageByAgent.isEmpty)
        r["status"] = "completed"
        try j.append(r)
        let once = Self.describe(j.index.totals)
        #expect(j.index.totals.completed == ["en": 1] && j.index.totals.judgeScoreCount == 1)
        #expect(Self.describe(try RunJournal(path: path, keep: keep).index.totals) == once, "the same read from the file")
        // A shard's index counts only its own slots.
        let other = try RunJournal(path: path, keep: keep, counts: { $0 % 2 == 0 })
        #expect(other.index.totals.completed.isEmpty && other.index.count == 1)
    }

    @Test func idsAreFoundWithoutAStringPerDialogue() throws {
        #expect(DialogueIndex.bytesPerDialogue <= 64, "\(DialogueIndex.bytesPerDialogue) bytes")
        let index = DialogueIndex(keep: { _ in false })
        var n = 0
        for lang in ["en", "pt_BR"] {
            for slot in stride(from: 0, to: 12_000, by: 2) {
                let id = NewDialogues.languageRun("big", language: lang) + "-" + String(format: "%04d", slot)
                try index.remember(JSONObject([("conversation_id", .string(id)), ("language", .string(lang)), ("slot", .int(slot)),
                                               ("index", .int(slot)), ("status", "completed")]),
                                   offset: n * 10, length: 10) { _ throws(DlgError) in Issue.record("nothing superseded"); return [:] }
                n += 1
            }
        }
        #expect(index.count == 12_000 && index.oddIDCount == 0)
        for p in stride(from: 0, to: index.count, by: 97) {
            let id = index.id(at: p)
            #expect(index.position(of: id) == p, "\(id)")
        }
        #expect(index.id(at: 5_999) == "big-en-11998" && index.id(at: 6_000) == "big-pt_BR-0000")
        #expect(index.position(of: "big-en-0001") == nil && index.position(of: "big-en-12000") == nil && index.position(of: "big-fr-0000") == nil)
        // Ids of other shapes are kept as they are.
        for id in ["c-1", "big-en-00002", "big-en-2", "7", "x-"] {
            try index.remember(JSONObject([("conversation_id", .string(id)), ("slot", 2), ("status", "completed")]), offset: 0, length: 1) { _ throws(DlgError) in [:] }
            let p = try #require(index.position(of: id), "\(id)")
            #expect(index.id(at: p) == id && index.slot(at: p) == 2)
        }
        #expect(index.oddIDCount == 5)
    }
}
