// saving.filters and dlg-export --min-score / --exclude-reasons on a hand-made judged file:
// conversations_sharegpt_filtered.jsonl, and how many each filter removed.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("quality filters") struct FilterTests {
    /// A completed dialogue of `scores.count` turns; a nil score is a turn the judge did not see.
    static func dialogue(_ id: String, _ scores: [Int?], reasons: [[String]] = []) -> JSONObject {
        let turns: [JSON] = scores.enumerated().map { i, s in
            var t: JSONObject = ["turn_index": .int(i + 1), "user_message": .string("Question \(i + 1) of \(id)?"),
                                 "assistant_message": .string("Answer \(i + 1) of \(id)."), "question_mode": "fresh"]
            if let s {
                t["qa_judge"] = .obj(["score": .int(s), "reasons": JSON(i < reasons.count ? reasons[i] : []),
                                      "notes": "hand-made", "question_ok": true, "answer_ok": true])
            }
            return .object(t)
        }
        return ["conversation_id": .string(id), "run_id": "hand-en", "index": 0, "language": "en",
                "target_turns": .int(scores.count), "status": "completed",
                "personas": .obj(["user": "A user", "assistant": "An assistant", "user_id": "u", "assistant_id": "a"]),
                "seed": .obj(["topic": "", "question": ""]), "turns": .array(turns)]
    }

    /// The hand-made judged file: scores at, below and above 7, a dialogue the judge never saw,
    /// reasons, one and two turns.
    static let records: [JSONObject] = [
        dialogue("at-threshold", [7]),                               // mean 7.0
        dialogue("mean-at-threshold", [6, 8]),                       // mean 7.0
        dialogue("just-below", [7, 6]),                              // mean 6.5
        dialogue("no-judge", [nil, nil]),
        dialogue("unsafe", [9, 10], reasons: [[], ["unsafe"]]),
        dialogue("vague-short", [8], reasons: [["vague"]]),
        dialogue("clean", [10, 9]),
    ]

    static func project(_ filters: String? = nil) throws -> WorkDir {
        let work = try WorkDir(label: "filters")
        try work.write("judged.jsonl", JSONL.text(records))
        if let filters {
            let config = try work.read("config.yaml")
            let replaced = config.replacingOccurrences(of: "saving:\n  output_dir: outputs\n",
                                                       with: "saving:\n  output_dir: outputs\n  filters:\n\(filters)")
            #expect(replaced != config, "the example config's saving section moved")
            try work.writeConfig(replaced)
        }
        return work
    }

    static func export(_ work: WorkDir, _ flags: [String] = []) async throws -> (ToolResult, JSONObject) {
        let r = try await stage("dlg-export", work, nil, flags + [work.file("judged.jsonl").path])
        try #require(r.status == 0, "\(r)")
        return (r, try JSONL.object(r.stdout))
    }

    static func kept(_ work: WorkDir) throws -> [String] {
        try work.records("outputs/\(QualityFilters.fileName)").map { $0["metadata"]?["conversation_id"]?.stringValue ?? "" }
    }

    @Test func offByDefaultNoFilteredFile() async throws {
        let work = try Self.project()
        let (r, summary) = try await Self.export(work)
        #expect(summary["filters"] == .null, "\(r)")
        #expect(!work.exists("outputs/\(QualityFilters.fileName)"))
        #expect(work.files(under: "outputs").filter { $0.hasSuffix(".jsonl") }.sorted()
                == datasetFiles.sorted(), "\(work.files(under: "outputs"))")
    }

    @Test func minJudgeScoreKeepsTheThresholdAndFailsTheUnjudged() async throws {
        let work = try Self.project("    min_judge_score: 7\n")
        let (r, summary) = try await Self.export(work)
        #expect(try Self.kept(work) == ["at-threshold", "mean-at-threshold", "unsafe", "vague-short", "clean"], "\(r)")
        #expect(summary["filters"]?["kept"] == 5, "\(r)")
        #expect(summary["filters"]?["removed"] == .obj(["min_turns": 0, "min_judge_score": 2, "exclude_reasons": 0]), "\(r)")
        #expect(summary["filters"]?["settings"] == .obj(["min_judge_score": 7.0]), "\(r)")
    }

    @Test func theFlagReplacesTheConfigsThreshold() async throws {
        let work = try Self.project("    min_judge_score: 9.5\n")
        let (r, summary) = try await Self.export(work, ["--min-score", "7"])
        #expect(try Self.kept(work) == ["at-threshold", "mean-at-threshold", "unsafe", "vague-short", "clean"], "\(r)")
        #expect(summary["filters"]?["removed"]?["min_judge_score"] == 2, "\(r)")
        let (_, strict) = try await Self.export(work)
        #expect(try Self.kept(work) == ["unsafe", "clean"], "at 9.5 only the two 9.5 means pass")
        #expect(strict["filters"]?["removed"]?["min_judge_score"] == 5)
    }

    @Test func excludeReasonsRemovesNamedReasonsAndPassesTheUnjudged() async throws {
        let work = try Self.project()
        let (r, summary) = try await Self.export(work, ["--exclude-reasons", "unsafe, vague"])
        #expect(try Self.kept(work) == ["at-threshold", "mean-at-threshold", "just-below", "no-judge", "clean"], "\(r)")
        #expect(summary["filters"]?["removed"] == .obj(["min_turns": 0, "min_judge_score": 0, "exclude_reasons": 2]), "\(r)")
    }

    @Test func minTurnsCountsTurns() async throws {
        let work = try Self.project("    min_turns: 2\n")
        let (r, summary) = try await Self.export(work)
        #expect(try Self.kept(work) == ["mean-at-threshold", "just-below", "no-judge", "unsafe", "clean"], "\(r)")
        #expect(summary["filters"]?["removed"]?["min_turns"] == 2, "\(r)")
    }

    @Test func allThreeCountEachRemovalOnceAndKeepTheJudgedColumns() async throws {
        let work = try Self.project("    min_judge_score: 7\n    exclude_reasons: [unsafe]\n    min_turns: 2\n")
        let (r, summary) = try await Self.export(work)
        #expect(try Self.kept(work) == ["mean-at-threshold", "clean"], "\(r)")
        // vague-short and at-threshold: min_turns first; just-below and no-judge: score; unsafe: reasons.
        #expect(summary["filters"]?["removed"] == .obj(["min_turns": 2, "min_judge_score": 2, "exclude_reasons": 1]), "\(r)")
        let judged = Dictionary(uniqueKeysWithValues: try work.records("outputs/conversations_sharegpt_judged.jsonl").map {
            ($0["metadata"]?["conversation_id"]?.stringValue ?? "", $0)
        })
        for row in try work.records("outputs/\(QualityFilters.fileName)") {
            let id = row["metadata"]?["conversation_id"]?.stringValue ?? ""
            let same = try #require(judged[id], "\(id) is not in the judged file")
            #expect(row.keys == same.keys, "columns \(row.keys) vs the judged file's \(same.keys)")
            #expect(row["judge"] == same["judge"] && row["messages"] == same["messages"])
        }
        // The report says the same.
        let rep = try await stage("dlg-export", work, nil, ["--report", work.file("judged.jsonl").path])
        try #require(rep.status == 0, "\(rep)")
        #expect(try JSONL.object(rep.stdout)["filters"] == summary["filters"]?["kept"].map { _ in
            .obj(["kept": 2, "removed": .obj(["min_turns": 2, "min_judge_score": 2, "exclude_reasons": 1])])
        }, "\(rep)")
    }

    @Test func theHubExportCanTakeTheFilteredFile() async throws {
        let work = try Self.project("    min_judge_score: 7\n")
        _ = try await Self.export(work)
        let config = try work.read("config.yaml")
        try work.writeConfig(config + "  hf_push:\n    source_file: \(QualityFilters.fileName)\n")
        let hub = try await stage("dlg-export", work, nil, ["--hub"])
        try #require(hub.status == 0, "\(hub)")
        let summary = try JSONL.object(hub.stdout)
        #expect(summary["records"] == 5, "\(hub)")
        #expect(work.exists("outputs/hf_export/\(QualityFilters.fileName)"))
        #expect(try work.read("outputs/hf_export/README.md").contains("`judge`"))
    }

    @Test func badFilterValuesAreRefused() async throws {
        let work = try Self.project()
        let reason = try await stage("dlg-export", work, nil, ["--exclude-reasons", "boring", work.file("judged.jsonl").path])
        #expect(reason.status == 64, "\(reason)")
        #expect(reason.stderr.contains("\"boring\" is not a judge reason"), "\(reason)")
        let score = try await stage("dlg-export", work, nil, ["--min-score", "11", work.file("judged.jsonl").path])
        #expect(score.status == 64, "\(score)")
        let config = try Self.project("    min_judge_score: eleven\n")
        let bad = try await stage("dlg-export", config, nil, [config.file("judged.jsonl").path])
        #expect(bad.status == 78, "\(bad)")
        #expect(bad.stderr.contains("saving.filters.min_judge_score"), "\(bad)")
        #expect(!config.exists("outputs/\(QualityFilters.fileName)"))
    }
}
