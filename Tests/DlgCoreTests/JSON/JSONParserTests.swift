// JSONParser against jansson: the text both read must give the same value, the text jansson refuses
// must be refused (and worded by jansson), and the forms left to jansson must still parse.

import DlgTestSupport
import Testing
@testable import DlgCore

@Suite struct JSONParserTests {
    func ours(_ text: String) -> JSON? {
        Array(text.utf8).withUnsafeBufferPointer { JSONParser.parse($0) }
    }

    func jansson(_ text: String) -> JSON? {
        Array(text.utf8).withUnsafeBytes { try? JSONCodec.parseWithJansson($0) }
    }

    static let accepted = [
        #"{"b":1,"a":[true,false,null,2.5,"x/é\n"],"c":{"z":"q","y":-3}}"#,
        " \t\r\n[ 1 , 2 ]\n ", "0", "-0", "-0.0", "0.5e-3", "1E2", "1e+2", "1E-2", "123456789.125",
        "9223372036854775807", "-9223372036854775808", "1e-400", "[[[[]]]]", "{}", "[]", #""""#,
        #""\"\\\/\b\f\n\r\t""#, #""\u00e9\u00E9\u20ac\ud83d\ude00\uD83D\uDE00""#, #""a\u0000b""#,
        #"{"":0}"#, #"{"k":1,"k":2,"j":3}"#, #"{"k":{"x":1},"j":3,"k":[2]}"#, #"{"\u006b":1,"k":2}"#,
        "\"caf\u{E9} \u{1F600} \u{10FFFF}\"", "true", "false", "null",
    ]

    static let refused = [
        "", " ", "{", "[1,]", "{\"a\":1,}", "{,}", "[1 2]", "01", "-", "1.", ".5", "+1", "1e", "1e+", "--1",
        "9223372036854775808", "-9223372036854775809", "1e400", "-1e400", "tru", "truex", "nul", "[true1]",
        #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #"{"a\u0000":1}"#,
        "\"a\tb\"", "\"a\nb\"", "\"\u{01}\"", "[1] [2]", "{\"a\" 1}", "{a:1}", "'a'", "[1]\0",
    ]

    @Test(arguments: accepted) func readsWhatJanssonReadsTheSameWay(_ text: String) throws {
        let mine = try #require(ours(text), "the parser refused \(text.debugDescription)")
        let theirs = try #require(jansson(text))
        #expect(identicalJSON(mine, theirs), "\(text.debugDescription): \(mine) vs \(theirs)")
    }

    @Test(arguments: refused) func refusesWhatJanssonRefuses(_ text: String) {
        #expect(ours(text) == nil, "the parser accepted \(text.debugDescription)")
        #expect(jansson(text) == nil, "jansson accepted \(text.debugDescription)")
        #expect(throws: JSONParseError.self) { try JSONCodec.parse(text) }
    }

    @Test func refusesBadUTF8AsJanssonDoes() {
        for bad: [UInt8] in [[0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
                             [0x22, 0xE2, 0x82, 0x22], [0x22, 0xFF, 0x22], [0x22, 0x80, 0x22]] {
            #expect(bad.withUnsafeBufferPointer { JSONParser.parse($0) } == nil)
            #expect(throws: JSONParseError.self) { try JSONCodec.parse(bad) }
        }
    }

    @Test func aRepeatedKeyKeepsItsPlaceAndTakesTheLastValue() throws {
        let value = try #require(ours(#"{"k":1,"j":2,"k":3}"#))
        #expect(value.objectValue?.keys == ["k", "j"])
        #expect(value["k"] == 3)
    }

    @Test func numbersKeepTheirTypes() throws {
        #expect(ours("1") == .int(1))
        #expect(ours("-0") == .int(0))
        #expect(identicalJSON(try #require(ours("-0.0")), .double(-0.0)))
        #expect(ours("1E2") == .double(100))
        #expect(ours("-9223372036854775808") == .int(Int.min))
    }

    @Test func errorsAreStillWordedByJansson() {
        #expect(throws: JSONParseError.self) { try JSONCodec.parse("[1,]") }
        do {
            _ = try JSONCodec.parse("9223372036854775808")
            Issue.record("a too big integer was accepted")
        } catch {
            #expect(error.message.contains("too big integer"), "\(error)")
        }
    }

    @Test func deepNestingAndLargeObjectsWithRepeatsAreLeftToJansson() throws {
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(ours(deep) == nil)
        #expect(try JSONCodec.parse(deep).arrayValue?.count == 1)
        let tooDeep = String(repeating: "[", count: 3000) + String(repeating: "]", count: 3000)
        #expect(throws: JSONParseError.self) { try JSONCodec.parse(tooDeep) }

        let members = (0..<100).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        let big = "{" + members + "}"
        #expect(ours(big)?.objectValue?.count == 100)
        let repeated = "{" + members + ",\"k5\":\"again\"}"
        #expect(ours(repeated) == nil)
        let parsed = try JSONCodec.parse(repeated)
        #expect(parsed["k5"] == "again")
        #expect(parsed.objectValue?.keys.count == 100)
        #expect(parsed.objectValue?.keys[5] == "k5")
    }
}
