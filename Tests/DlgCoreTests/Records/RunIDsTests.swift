// Run ids and the one safe-id rule for everything that names a file or folder.

@testable import DlgCore
import Foundation
import Testing

@Suite struct SafeIDTests {
    @Test func ordinaryIdsPass() {
        for id in ["r1-en-0001", "0123456789abcdef0123456789abcdef", "a.b_c-d", "x", "café-日本", "v1.2"] {
            #expect(SafeID.problem(id) == nil, "\(id)")
        }
    }

    @Test func pathsAndParentsAreRefused() {
        for id in ["a/b", "/abs", "..", "a..b", "../x", "x/"] {
            #expect(SafeID.problem(id) == #"must not contain "/" or "..""#, "\(id)")
        }
        #expect(SafeID.problem("") == "must not be empty")
    }

    @Test func controlCharactersAreRefused() {
        for id in ["a\nb", "tab\there", "bell\u{07}", "nul\u{00}x", "del\u{7F}", "c1\u{85}x", "cr\r"] {
            #expect(SafeID.problem(id) == "must not contain control characters", "\(id.debugDescription)")
        }
    }

    @Test func lengthIsCountedInBytes() {
        #expect(SafeID.maxLength == 200)
        #expect(SafeID.problem(String(repeating: "a", count: 200)) == nil)
        #expect(SafeID.problem(String(repeating: "a", count: 201)) == "must be at most 200 bytes long")
        // 100 two-byte letters are 200 bytes; one more is over, though only 101 characters.
        #expect(SafeID.problem(String(repeating: "é", count: 100)) == nil)
        #expect(SafeID.problem(String(repeating: "é", count: 101)) == "must be at most 200 bytes long")
    }
}

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
