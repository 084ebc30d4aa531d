// The checks every stage runs on an input line before it trusts it as a dialogue record.

@testable import DlgCore
import Foundation
import Testing

@Suite struct RecordCheckTests {
    static let valid = #"{"conversation_id":"r-en-0001","status":"active","turns":[],"target_turns":2}"#

    /// The problem `RecordCheck.parse` finds in `line`, or nil when it is a record.
    static func problem(_ line: String) -> String? {
        switch RecordCheck.parse(Array(line.utf8)) {
        case .success: return nil
        case .failure(let p): return p.description
        }
    }

    @Test func aWholeRecordPassesAndKeepsItsFields() throws {
        let r = try RecordCheck.parse(Array(Self.valid.utf8)).get()
        #expect(Record.id(r) == "r-en-0001")
        #expect(Record.status(r) == .active)
        #expect(Record.targetTurns(r) == 2)
        #expect(RecordCheck.problem(r) == nil)
    }

    @Test func eachProblemIsNamed() {
        let cases: [(String, String)] = [
            (#"{"conversation_id": "#, "malformed JSON"),
            (#"[1, 2]"#, "a record must be a JSON object, found"),
            (#"{"status":"active","turns":[],"target_turns":2}"#, #""conversation_id" is missing"#),
            (#"{"conversation_id":"","status":"active","turns":[],"target_turns":2}"#, #""conversation_id" is not a non-empty string"#),
            (#"{"conversation_id":7,"status":"active","turns":[],"target_turns":2}"#, #""conversation_id" is not a non-empty string"#),
            (#"{"conversation_id":"../etc","status":"active","turns":[],"target_turns":2}"#, #""conversation_id" must not contain "/" or "..""#),
            (#"{"conversation_id":"a","turns":[],"target_turns":2}"#, #""status" is missing"#),
            (#"{"conversation_id":"a","status":"finished","turns":[],"target_turns":2}"#, #""status" must be "active", "completed" or "dropped""#),
            (#"{"conversation_id":"a","status":"active","turns":{},"target_turns":2}"#, #""turns" is missing or not a list"#),
            (#"{"conversation_id":"a","status":"active","turns":[],"target_turns":"2"}"#, #""target_turns" is missing or not an integer"#),
            (#"{"conversation_id":"a","status":"active","turns":[],"target_turns":2,"pending":[]}"#, #""pending" is not an object"#),
            (#"{"conversation_id":"a","status":"active","turns":[],"target_turns":2,"pending":{"user_message":3}}"#, #""pending.user_message" is not a string"#),
        ]
        for (line, expected) in cases {
            let found = Self.problem(line)
            #expect(found?.hasPrefix(expected) == true, "\(line) -> \(found ?? "no problem"), expected \(expected)")
        }
    }

    @Test func aNullPendingIsNoPendingQuestion() {
        #expect(Self.problem(#"{"conversation_id":"a","status":"completed","turns":[],"target_turns":1,"pending":null}"#) == nil)
        #expect(Self.problem(#"{"conversation_id":"a","status":"dropped","turns":[],"target_turns":1,"pending":{"user_message":"q?"}}"#) == nil)
    }

    @Test func blankMeansSpacesTabsAndCarriageReturnsOnly() {
        #expect(RecordCheck.isBlank(Array("".utf8)))
        #expect(RecordCheck.isBlank(Array(" \t \r".utf8)))
        #expect(!RecordCheck.isBlank(Array(" x ".utf8)))
        #expect(!RecordCheck.isBlank(Array("{}".utf8)))
    }
}
