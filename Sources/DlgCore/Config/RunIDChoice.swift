extension RunIDs {
    /// The run id a tool works under: the one it was given (`--run-id`), else the config's
    /// (`run.resume_run_id`, then `run.run_id`), else a new random one. dlg-gen's new dialogues,
    /// dlg-run and dlg-cluster run all choose by this rule.
    public static func chosen(given: String?, run: RunSettings) -> String {
        given ?? configured(resumeRunID: run.resumeRunID, runID: run.runID) ?? random()
    }
}
