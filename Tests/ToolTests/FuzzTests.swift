// A short run of the fuzzer (make fuzz runs a million inputs per target): seeded mutations of records,
// configs and LLM replies, the JSON parser checked against jansson, DSN passwords through the redaction; the tool exits 0 only when no input crashed or hung its parser.

import DlgTestSupport
import Foundation
import Testing

@Suite("fuzzing, short") struct FuzzTests {
    @Test(arguments: ["records", "reply", "json", "config", "dsn"])
    func noInputCrashesOrHangsTheParser(_ target: String) async throws {
        // Another seed every day: over the weeks the short runs cover more than one fixed seed would.
        let seed = UInt64(Date().timeIntervalSince1970 / 86_400)
        let r = try await runTool("dlg-fuzz", args: ["--target", target, "--inputs", ["config": "2000", "dsn": "5000"][target] ?? "20000",
                                                    "--seed", String(seed)], timeout: .seconds(600))
        #expect(r.status == 0, "dlg-fuzz --target \(target) --seed \(seed) failed (rerun it with that seed):\n\(r)")
        #expect(r.stdout.contains("no crash, no hang"), "\(r)")
    }
}
