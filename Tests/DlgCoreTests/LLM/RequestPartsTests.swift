// A request's schema and tools come from bytes serialized once per process: the request and the cache
// key must be the bytes of writing them whole, for every shape the endpoint takes, and a schema that
// changes must not be served from the memo.

import Testing
@testable import DlgCore

@Suite struct RequestPartsTests {
    static let messages: [ChatMessage] = [.obj(["role": "system", "content": "Be brief."]),
                                          .obj(["role": "user", "content": "Qué \"tal\"?\n"])]
    static let tools: [JSON] = [.obj(["type": "function", "function": .obj(["name": "vector_db_search",
                                      "parameters": .obj(["type": "object", "properties": .obj(["query": .obj(["type": "string"])])])])])]

    @Test(arguments: [EndpointCapabilities.JSONMode.jsonSchema, .jsonObject, .text], [true, false])
    func aRequestIsTheBytesOfItsBodyWrittenWhole(_ json: EndpointCapabilities.JSONMode, _ toolsTaken: Bool) throws {
        var agent = ResponseCacheTests.agent()
        // An extra member named like one we write from bytes must not be replaced by them.
        agent.extra = ["user": "u", "tools": toolsTaken ? .null : .string("from extra")]
        let can = EndpointCapabilities.Snapshot(json: json, tools: toolsTaken, seed: true)
        for format in [ResponseFormat.text, .json(name: "kb_responder", schema: AgentSchemas.kbAnswer)] {
            let (body, _) = LLMClient.requestBody(agent: agent, model: "m", messages: Self.messages, format: format,
                                                  tools: Self.tools, can: can)
            let bytes = LLMClient.requestBytes(body, messagesJSON: JSON.array(Self.messages).compactBytes(),
                                               format: format, tools: Self.tools, can: can)
            #expect(bytes == JSON.object(body).compactBytes(), "\(json) tools=\(toolsTaken) \(format)")
        }
    }

    @Test func aSchemaThatChangesIsSerializedAgain() {
        let parts = RequestParts()
        let first = JSON.obj(["type": "object", "required": ["a"]])
        let reordered = JSON.obj(["required": ["a"], "type": "object"])
        let other = JSON.obj(["type": "object", "required": ["b"]])
        #expect(parts.bytes(first) == first.compactBytes())
        #expect(parts.bytes(reordered) == reordered.compactBytes(), "the same members in another order are other bytes")
        #expect(parts.bytes(other) == other.compactBytes())
        #expect(parts.bytes(.int(1)) != parts.bytes(.double(1)))
        #expect(parts.keyFormat(name: "x", schema: other) == JSON.obj(["name": "x", "schema": other]).compactBytes())
    }

    @Test func identicalMeansOrderTypesAndBits() {
        #expect(JSON.obj(["a": 1, "b": 2]).isIdentical(to: .obj(["a": 1, "b": 2])))
        #expect(!JSON.obj(["a": 1, "b": 2]).isIdentical(to: .obj(["b": 2, "a": 1])))
        #expect(JSON.obj(["a": 1, "b": 2]) == .obj(["b": 2, "a": 1]), "== overlooks the order")
        #expect(!JSON.int(0).isIdentical(to: .double(0)))
        #expect(!JSON.double(0).isIdentical(to: .double(-0.0)))
        #expect(!JSON.string("\u{E9}").isIdentical(to: .string("e\u{301}")), "bytes, not canonical equivalence")
        let schema = AgentSchemas.kbAnswer
        #expect(schema.isIdentical(to: AgentSchemas.kbAnswer))
    }
}
