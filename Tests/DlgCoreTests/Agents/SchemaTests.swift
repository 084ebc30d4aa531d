// The JSON schemas sent to the agents.

@testable import DlgCore
import Foundation
import Testing

@Suite struct SchemaTests {
    /// Every object in the agents' schemas is closed and every string and list bounded: under a
    /// grammar (llama.cpp) an open object or an unbounded string lets a small model run to max_tokens.
    @Test func everyObjectIsClosedAndEveryValueBounded() {
        func check(_ schema: JSON, _ path: String) {
            switch schema["type"]?.stringValue {
            case "object":
                #expect(schema["additionalProperties"] == false, "\(path) allows other properties")
                for (key, value) in schema["properties"]?.objectValue?.pairs ?? [] { check(value, "\(path).\(key)") }
            case "array":
                #expect(schema["maxItems"]?.intValue != nil, "\(path) has no maxItems")
                if let items = schema["items"] { check(items, "\(path)[]") }
            case "string":
                #expect(schema["maxLength"] != nil || schema["enum"] != nil || schema["pattern"] != nil, "\(path) is unbounded")
            default:
                break
            }
        }
        check(AgentSchemas.qaGeneration, "qa_generator")
        check(AgentSchemas.kbAnswer, "kb_responder")
        check(AgentSchemas.judge(reasons: ["vague", "other"]), "judge")
    }
}
