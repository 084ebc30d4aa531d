// dlg-export's quality filter flags, shared by `dataset` and `report`.

import ArgumentParser
import DlgCore
import Foundation

/// `--min-score` and `--exclude-reasons`: each replaces its saving.filters.* key for one command.
struct FilterOptions: ParsableArguments {
    @Option(help: "Quality filter: keep dialogues whose judge score is at least this (0-10); replaces saving.filters.min_judge_score.")
    var minScore: Double?

    @Option(help: "Quality filter: drop dialogues a judge verdict gives one of these reasons (comma-separated); replaces saving.filters.exclude_reasons.")
    var excludeReasons: String?

    func validate() throws {
        if let s = minScore, !(0...10).contains(s) { throw ValidationError("\"--min-score\" must be from 0 to 10") }
    }

    /// The settings with the flags' filters in place; a reason the judge does not know is a usage error.
    func apply(to settings: Settings) throws -> Settings {
        var settings = settings
        if let minScore { settings.filters.minJudgeScore = minScore }
        if let excludeReasons {
            settings.filters.excludeReasons = excludeReasons.split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let problem = settings.filters.problem(allowedReasons: settings.judge.reasons) {
            throw DlgError(.usage, "--min-score / --exclude-reasons: \(problem)")
        }
        return settings
    }
}
