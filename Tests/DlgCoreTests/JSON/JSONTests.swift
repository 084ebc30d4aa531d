import Testing
@testable import DlgCore

@Suite struct JSONTests {
    @Test func roundTripKeepsKeyOrderAndUnicode() throws {
        let text = #"{"b":1,"a":[true,null,2.5,"x/é\n"],"c":{"z":"q","y":-3}}"#
        let value = try JSONCodec.parse(text)
        #expect(value.serialized() == text)
    }

    @Test func aMemberWrittenFromRawBytesReadsAsTheWholeObject() throws {
        let messages = JSON.array([.obj(["role": "user", "content": "qué \"tal\"\n\u{01}"]), .obj(["role": "assistant", "content": ""])])
        var o = JSONObject()
        o["model"] = "m"
        o["messages"] = messages
        o["seed"] = 7
        var spliced: [UInt8] = []
        var placeholder = o
        placeholder["messages"] = .null
        JSON.write(placeholder, replacing: "messages", with: messages.compactBytes(), into: &spliced)
        #expect(spliced == JSON.object(o).compactBytes())
        #expect(try JSONCodec.parse(spliced) == .object(o))
    }

    @Test func malformedInputNamesColumn() {
        #expect(throws: JSONParseError.self) { try JSONCodec.parse("{\"a\": }") }
    }

    @Test func doublesUseShortestForm() {
        #expect(JSON.double(0.211).serialized() == "0.211")
        #expect(JSON.double(3).serialized() == "3.0")
    }
}
