import Foundation

/// kb_responder's `web_search` tool, as upstream: a Serper-compatible `POST {q, num}` with the
/// `X-API-KEY` header; the result is `{query, results: [{title, link, snippet}], rendered}`. A failed
/// search is a result too (`results` empty, `error` saying why, never the key), so the model can answer
/// from the knowledge base instead.
public struct WebSearch: Sendable {
    public let settings: WebSearchSettings

    public init(settings: WebSearchSettings) { self.settings = settings }

    public static let name = "web_search"

    public static let tool: JSON = .obj([
        "type": "function",
        "function": .obj([
            "name": .string(name),
            "description": "Search the web and return the top results (title, link, snippet).",
            "parameters": .obj([
                "type": "object",
                "properties": .obj(["query": .obj(["type": "string", "description": "What to look for."])]),
                "required": ["query"],
                "additionalProperties": false,
            ]),
        ]),
    ])

    public func search(_ query: String) async -> JSON {
        var body: [UInt8] = []
        JSON.obj(["q": .string(query), "num": .int(settings.numResults)]).write(into: &body)
        let headers = ["Content-Type: application/json", "Accept: application/json", "X-API-KEY: \(settings.apiKey)"]
        func failed(_ why: String) -> JSON {
            .obj(["query": .string(query), "results": .array([]), "rendered": .string("Web search failed: \(why)."),
                  "error": .string(why)])
        }
        switch await CurlTransport.shared.perform(url: settings.url, method: "POST", headers: headers, body: body,
                                                  timeout: settings.timeout) {
        case .failed(let message, let timedOut):
            return failed(timedOut ? "timed out" : "connection error (\(message))")
        case .tooLarge(let limit, _):
            return failed("the reply is larger than \(limit) bytes")
        case .response(let r) where r.status != 200:
            return failed("HTTP \(r.status)")
        case .response(let r):
            guard let reply = try? JSONCodec.parse(r.body) else { return failed("the reply is not JSON") }
            var results: [JSON] = []
            for item in reply["organic"]?.arrayValue ?? [] where results.count < settings.numResults {
                results.append(.obj(["title": .string(item["title"]?.stringValue ?? ""),
                                     "link": .string(item["link"]?.stringValue ?? ""),
                                     "snippet": .string(item["snippet"]?.stringValue ?? "")]))
            }
            let rendered = results.isEmpty ? "No web result." : results.enumerated().map { i, r in
                "[\(i + 1)] \(r["title"]?.stringValue ?? "") (\(r["link"]?.stringValue ?? "")): \(r["snippet"]?.stringValue ?? "")"
            }.joined(separator: "\n")
            return .obj(["query": .string(query), "results": .array(results), "rendered": .string(rendered)])
        }
    }

    /// Upstream's filling of an answer from the tool events: `did_web_search` true when a web search was
    /// made, and its queries in `reasoning_trace.retrieval_queries.web_search` when the model listed none.
    public static func fill(_ answer: inout JSONObject, events: [JSON]) {
        let queries = events.filter { $0["name"]?.stringValue == name }
            .compactMap { $0["arguments"]?["query"]?.stringValue }
        guard !queries.isEmpty else { return }
        answer["did_web_search"] = true
        guard var trace = answer["reasoning_trace"]?.objectValue else { return }
        var rq = trace["retrieval_queries"]?.objectValue ?? JSONObject()
        if (rq["web_search"]?.arrayValue ?? []).isEmpty {
            rq["web_search"] = JSON(queries)
            trace["retrieval_queries"] = .object(rq)
            answer["reasoning_trace"] = .object(trace)
        }
    }
}
