// web_search against a local stand-in of a Serper-compatible API (Fixtures/serper_standin.py, started
// on 127.0.0.1 by the test): the key goes in X-API-KEY and never into outputs or logs, the body is
// {q, num}, and the answer's did_web_search, retrieval_queries.web_search and tool events are filled.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("web_search") struct WebSearchTests {
    static let key = "serper-test-key-5b1e0c"

    /// The stand-in and its URL; throws without python3.
    static func startStandIn(log: String, key: String) async throws -> (RunningTool, String) {
        try await startPythonStandIn("serper", script: "serper_standin.py", args: [log, key])
    }

    @Test func respondSearchesTheWebThroughTheConfiguredEndpoint() async throws {
        let work = try smallProject(label: "web", total: 2, batch: 2)
        defer { work.cleanup() }
        let log = work.file("standin.jsonl").path
        let (standIn, url) = try await Self.startStandIn(log: log, key: Self.key)
        defer { standIn.kill() }
        try work.setConfig("tools.web_search_enabled", "true")
        try work.setConfig("tools.serper_num_results", "3")
        try work.setConfig("tools.serper_url", url)
        try work.setConfig("run.max_turns", "1")
        // Without SERPER_API_KEY the tool is not offered, and the run says so.
        try await withMock(["--seed", "71"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "web", timeout: .seconds(120))
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 2])
            #expect(r.stderr.contains("SERPER_API_KEY is not set"), "\(r.stderr)")
        }
        let requestsWithoutKey = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(requestsWithoutKey.isEmpty, "without SERPER_API_KEY nothing is sent: \(requestsWithoutKey)")

        let keyed = try smallProject(label: "web-key", total: 2, batch: 2)
        defer { keyed.cleanup() }
        try keyed.setConfig("tools.web_search_enabled", "true")
        try keyed.setConfig("tools.serper_num_results", "3")
        try keyed.setConfig("tools.serper_url", url)
        try keyed.setConfig("run.max_turns", "1")
        try await withMock(["--seed", "71"]) { mock in
            let r = try await stage("dlg-run", keyed, mock, ["--run-id", "web"], env: ["SERPER_API_KEY": Self.key])
            try #require(r.status == 0, "\(r)")
            #expect(!r.stderr.contains("web_search"), "no warning once the tool works: \(r.stderr)")
            let summary = try JSONL.object(r.stdout)
            try checkFinishedRun(keyed, r, summary: summary, completed: ["en": 2])
        }
        let requests = try JSONL.records(try String(contentsOfFile: log, encoding: .utf8))
        try #require(!requests.isEmpty, "the stand-in received no request")
        for q in requests {
            #expect(q["path"]?.stringValue == "/search")
            #expect(q["key_ok"]?.boolValue == true, "X-API-KEY carries SERPER_API_KEY")
            #expect(q["content_type"]?.stringValue == "application/json")
            let body = try #require(q["body"]?.objectValue)
            #expect(Set(body.keys) == ["q", "num"], "body \(JSON.object(body).serialized())")
            #expect(body["num"]?.intValue == 3)
            #expect((body["q"]?.stringValue ?? "").isEmpty == false, "q is the query")
        }
        let turns = try keyed.records("outputs/turns.jsonl")
        try #require(turns.count == 2)
        for t in turns {
            #expect(t["did_web_search"]?.boolValue == true, "\(JSON.object(t).serialized().prefix(400))")
            let queries = t["reasoning_trace"]?["retrieval_queries"]?["web_search"]?.arrayValue ?? []
            #expect(!queries.isEmpty, "retrieval_queries.web_search is filled from the tool events")
        }
        let conversations = try keyed.records("outputs/conversations_sharegpt.jsonl")
        let toolCalls = conversations.flatMap { $0["messages_with_tools"]?.arrayValue ?? [] }
            .flatMap { $0["tool_calls"]?.arrayValue ?? [] }
        #expect(toolCalls.contains { $0["function"]?["name"]?.stringValue == "web_search" }, "the web_search tool call is in messages_with_tools")
        let toolResults = conversations.flatMap { $0["messages_with_tools"]?.arrayValue ?? [] }
            .filter { $0["role"]?.stringValue == "tool" }.compactMap { $0["content"]?.stringValue }
        #expect(toolResults.contains { $0.contains("example.org") }, "the web results are in the tool messages")
        // The key is nowhere in what the run wrote.
        for file in keyed.files(under: "outputs") + keyed.files(under: "logs") where !file.hasSuffix(".sqlite") {
            let text = (try? keyed.read(file)) ?? ""
            #expect(!text.contains(Self.key), "\(file) holds the key")
        }
    }

    @Test func aFailedSearchIsAResultNotACrash() async throws {
        var s = WebSearchSettings()
        s.enabled = true
        s.apiKey = "k"
        let refused = try RefusedPort()
        s.url = "http://127.0.0.1:\(refused.port)/search"
        s.timeout = 5
        let result = await WebSearch(settings: s).search("kettles")
        #expect(result["results"]?.arrayValue?.isEmpty == true)
        #expect(result["error"]?.stringValue?.contains("connection error") == true, "\(result.serialized())")
        #expect(!result.serialized().contains("X-API-KEY"))
    }
}
