// Run ids (the safe-id rule they follow is Support/SafeID.swift).

@testable import DlgCore
import Foundation
import Testing

@Suite struct RunIDsTests {
    @Test func randomIdsAre32HexDigitsAndDiffer() {
        let ids = (0..<20).map { _ in RunIDs.random() }
        for id in ids {
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(id)")
            #expect(SafeID.problem(id) == nil)
        }
        #expect(Set(ids).count == ids.count)
    }

    @Test func resumeRunIDWinsOverRunID() {
        #expect(RunIDs.configured(resumeRunID: "old", runID: "new") == "old")
        #expect(RunIDs.configured(resumeRunID: "", runID: "new") == "new")
        #expect(RunIDs.configured(resumeRunID: "", runID: "") == nil)
    }
}
