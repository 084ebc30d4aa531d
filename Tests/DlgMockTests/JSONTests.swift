// The mock's own small JSON parser and writer.

@testable import DlgMock
import Testing

@Suite struct JSONTests {
    func parse(_ text: String) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { try JSONParser.parse(UnsafeRawBufferPointer($0)) }
    }

    @Test func parsesValuesAndEscapes() throws {
        let value = try parse(#" {"a": [1, -2.5e1, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00", "o": {}} "#)
        #expect(value["a"] == .array([.int(1), .number(-25), .bool(true), .bool(false), .null]))
        #expect(value["s"] == .string("x\"\\/\né😀"))
        #expect(value["o"] == .object([]))
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "\"\u{01}\"", "01", "1.", "tru", "{} x", "\"\\x\"", "\"abc"])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSONParseError.self) { try parse(text) }
    }

    /// Strings mixing escapes with runs of plain text (a prompt: every newline escaped) read back as
    /// written, whatever comes first, and a raw control character after an escape is still refused.
    @Test func escapesBetweenRunsOfPlainText() throws {
        let pieces = ["plain words ", #"\n"#, #"\""#, #"\\"#, "é", "😀", #"\u00e9"#, #"\t"#, "x", "", #"\/"#]
        let meant = ["plain words ", "\n", "\"", "\\", "é", "😀", "é", "\t", "x", "", "/"]
        var seed: UInt64 = 11
        for _ in 0..<2_000 {
            var text = "", expected = ""
            for _ in 0..<Int(seed % 9) {
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                let i = Int(seed >> 33) % pieces.count
                text += pieces[i]
                expected += meant[i]
            }
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            #expect(try parse("\"" + text + "\"") == .string(expected), "\(text)")
        }
        #expect(throws: JSONParseError.self) { try parse("\"a" + #"\n"# + "b\u{01}c\"") }
    }

    @Test func rejectsDeepNesting() {
        #expect(throws: JSONParseError.self) { try parse(String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)) }
    }

    @Test func writerRoundTrips() throws {
        let value = JSONValue.object([("k", .string("q\"\\\n\u{1}/é")), ("n", .array([.int(3), .number(0.5), .null]))])
        let text = String(decoding: JSONWriter.serialize(value), as: UTF8.self)
        #expect(text == #"{"k":"q\"\\\n\u0001/é","n":[3,0.5,null]}"#)
        #expect(try parse(text) == value)
    }

    @Test func findsTopicIdsAndLabels() {
        #expect(TextTools.firstStringValue(forKey: "topic_id", in: #"x "topic_id" :  "t-1", "topic_id":"t-2""#) == "t-1")
        #expect(TextTools.firstStringValue(forKey: "topic_id", in: "no topic") == nil)
        #expect(TextTools.allowedLabels(in: #"Reasons must come from ["a_b", "c"]."#) == ["a_b", "c"])
        #expect(TextTools.allowedLabels(in: #"reasons: [1, 2]"#) == nil)
    }
}
