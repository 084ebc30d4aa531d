import Foundation
import Testing
@testable import DlgCore

/// `saving.filters.*` read at load (Config/QualityFilterSettings.swift).
@Suite struct QualityFilterSettingsTests {
    @Test func configValuesAreRead() throws {
        let f = try ConfigFixture("saving:\n  filters:\n    min_judge_score: 7.5\n    exclude_reasons: [unsafe, vague]\n    min_turns: 2\n")
        defer { f.cleanup() }
        let s = try f.load()
        #expect(s.filters == QualityFilterSettings(minJudgeScore: 7.5, excludeReasons: ["unsafe", "vague"], minTurns: 2))
        #expect(s.tree.unknownKeys.isEmpty, "\(s.tree.unknownKeys)")
    }

    @Test func badConfigValuesNameTheKey() throws {
        for (yaml, expected) in [("min_judge_score: 11", "saving.filters.min_judge_score: 11.0 is not allowed"),
                                 ("min_judge_score: high", "saving.filters.min_judge_score: \"high\" is not allowed"),
                                 ("exclude_reasons: [boring]", "saving.filters.exclude_reasons: \"boring\" is not a judge reason"),
                                 ("min_turns: -1", "saving.filters.min_turns: -1 is not allowed")] {
            let f = try ConfigFixture("saving:\n  filters:\n    \(yaml)\n")
            defer { f.cleanup() }
            do {
                _ = try f.load()
                Issue.record("\(yaml) was accepted")
            } catch let e as DlgError {
                #expect(e.code == .config, "\(yaml): \(e)")
                #expect(e.message.contains(expected), "\(yaml): \(e.message)")
                #expect(e.message.contains("config.yaml:3"), "\(yaml): \(e.message)")
            }
        }
    }
}
