// saving.filters.near_dedup_threshold: the filtered file leaves out a dialogue with a question near
// one of a dialogue kept before it (issue 24, for datasets made before online near dedup).

@testable import DlgCore
import Foundation
import Testing

@Suite struct NearDuplicateFilterTests {
    static func dialogue(_ id: String, _ questions: [String]) -> JSONObject {
        var r = JudgedRecords.make(id, scores: questions.map { _ in 8 })
        r["turns"] = .array(Record.turns(r).enumerated().map { i, t in
            var o = t.objectValue ?? [:]
            o["user_message"] = .string(questions[i])
            return .object(o)
        })
        return r
    }

    static let base = "How long should I let my sourdough starter rest after feeding it before we bake?"

    @Test func aDialogueNearOneKeptBeforeIsLeftOut() {
        let filter = NearDuplicateFilter(threshold: 0.8)
        #expect(filter.admit(Self.dialogue("a", [Self.base, "Which flour gives the most open crumb in a rye loaf?"])))
        // Its second question has a word more than the first dialogue's first: out.
        #expect(!filter.admit(Self.dialogue("b", ["What is a levain?", "How long should I let my young sourdough starter rest after feeding it before we bake?"])))
        // A left-out dialogue's questions are not remembered: "What is a levain?" stays new.
        #expect(filter.admit(Self.dialogue("c", ["What is a levain, exactly?"])))
        #expect(!filter.admit(Self.dialogue("d", ["what is a levain exactly"])), "punctuation and case do not count")
        // Two questions near each other within one dialogue do not remove it.
        #expect(filter.admit(Self.dialogue("e", ["How do I oil a bike chain in winter?", "How do I oil a bike chain in winter, then?"])))
    }

    @Test func theExportCountsItUnderItsOwnName() async throws {
        let f = try ConfigFixture("saving:\n  output_dir: out\n  filters:\n    near_dedup_threshold: 0.8\n")
        defer { f.cleanup() }
        let settings = try f.load()
        #expect(settings.filters.nearDedupThreshold == 0.8 && settings.filters.isActive)
        #expect(settings.tree.unknownKeys.isEmpty, "\(settings.tree.unknownKeys)")
        let session = try ExportSession(settings: settings)
        for r in [Self.dialogue("a", [Self.base]), Self.dialogue("b", [Self.base + " Today?"]), Self.dialogue("c", ["What is a levain?"])] {
            try session.add(r)
        }
        let summary = try await session.finish()
        #expect(summary.filtered?.kept == 2 && summary.filtered?.removed == [.nearDuplicate: 1])
        #expect(summary.filtered?.json["removed"] == .obj(["min_turns": 0, "min_judge_score": 0, "exclude_reasons": 0, "near_dedup_threshold": 1]))
        let filtered = try String(contentsOfFile: settings.outputDir + "/" + QualityFilters.fileName, encoding: .utf8)
        #expect(filtered.split(separator: "\n").count == 2)
        #expect(!filtered.contains("Today?"))
    }

    @Test func aThresholdOutsideZeroToOneIsAConfigError() throws {
        let f = try ConfigFixture("saving:\n  filters:\n    near_dedup_threshold: 1.5\n")
        defer { f.cleanup() }
        #expect(throws: DlgError.self) { _ = try f.load() }
        // Off by default: the tally reads as before the filter existed.
        #expect(QualityFilters.Tally().json.serialized() == #"{"kept":0,"removed":{"min_turns":0,"min_judge_score":0,"exclude_reasons":0}}"#)
    }
}
