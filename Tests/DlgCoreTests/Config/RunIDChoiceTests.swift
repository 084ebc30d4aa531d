// The run id a tool works under (dlg-gen --new, dlg-run, dlg-cluster run): given, else the config's, else new.

@testable import DlgCore
import Testing

@Suite struct RunIDChoiceTests {
    func run(_ yaml: String) throws -> RunSettings {
        let f = try ConfigFixture(yaml)
        defer { f.cleanup() }
        return try f.load().run
    }

    @Test func givenThenResumeThenRunIDThenRandom() throws {
        let both = try run("run:\n  run_id: configured\n  resume_run_id: resumed\n")
        #expect(RunIDs.chosen(given: "given", run: both) == "given")
        #expect(RunIDs.chosen(given: nil, run: both) == "resumed")
        #expect(RunIDs.chosen(given: nil, run: try run("run:\n  run_id: configured\n")) == "configured")
        let neither = try run("run:\n  batch_size: 1\n")
        let a = RunIDs.chosen(given: nil, run: neither), b = RunIDs.chosen(given: nil, run: neither)
        #expect(a.count == 32 && a.allSatisfy(\.isHexDigit) && a != b, "\(a) \(b)")
    }
}
