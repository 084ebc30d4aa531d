import ArgumentParser
import DlgCore

/// `--run-id` where it names the run a tool starts, resumes or makes dialogues for (dlg-gen --new,
/// dlg-run, dlg-cluster run): one help text, one check, one default (`RunIDs.chosen`).
public struct RunIDOptions: ParsableArguments {
    @Option(name: .customLong(StageCommand.Flag.runID),
            help: "Run id to start or resume, or of dlg-gen's new dialogues (default: run.resume_run_id, then run.run_id, else a new random id).")
    public var runID: String?

    public init() {}

    public func validate() throws { try Self.check(runID) }

    /// The given id, else the config's, else a new one.
    public func chosen(_ settings: Settings) -> String { RunIDs.chosen(given: runID, run: settings.run) }

    /// The check of every `--run-id` (this group's and dlg-export's): an id that can name a folder.
    public static func check(_ id: String?) throws {
        if let id, let problem = SafeID.problem(id) { throw ValidationError("\"--\(StageCommand.Flag.runID)\" \(problem)") }
    }
}
