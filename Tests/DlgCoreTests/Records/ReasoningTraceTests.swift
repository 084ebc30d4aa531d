// The reasoning trace as a record keeps it, whatever shape the model sent.

@testable import DlgCore
import Foundation
import Testing

@Suite struct ReasoningTraceTests {
    @Test func traceNormalisation() {
        let t: JSONObject = ["thinking": "one step", "premises": [.obj(["id": "P1", "text": "t", "note": true])],
                             "retrieval_queries": .obj(["vector_db_search": ["en", "chain wear", "ab"]])]
        let n = ReasoningTrace.normalize(t, question: "q")
        #expect(n["thinking"] == [.obj(["text": "one step"])])
        #expect(n["premises"]?.arrayValue?.first?["assumption"] == "true")
        #expect(n["retrieval_queries"]?["vector_db_search"] == ["chain wear"])
        #expect(n["question"] == "q")
    }
}
