import Foundation

/// What each endpoint has refused so far, remembered for the process: `json_schema` (then
/// `json_object`, then plain text), `tools`, our `seed`. Servers say so with a 400/422 (or, llama.cpp
/// without --jinja, a 500) whose body names the parameter; the request is then sent again without it.
final class EndpointCapabilities: @unchecked Sendable {
    /// How a reply may be constrained.
    enum JSONMode: Int { case text = 0, jsonObject = 1, jsonSchema = 2 }

    struct Snapshot {
        var json: JSONMode
        var tools: Bool
        var seed: Bool
    }

    private let lock = NSLock()
    private var json: [String: JSONMode] = [:]
    private var tools: [String: Bool] = [:]
    private var seedRefused: Set<String> = []

    func snapshot(_ baseURL: String) -> Snapshot {
        lock.withLock {
            Snapshot(json: json[baseURL] ?? .jsonSchema, tools: tools[baseURL] ?? true, seed: !seedRefused.contains(baseURL))
        }
    }

    /// What the run's other processes found (from the run's broker): refusals only ever add up.
    func merge(_ baseURL: String, _ s: Snapshot) {
        lock.withLock {
            if s.json.rawValue < (json[baseURL] ?? .jsonSchema).rawValue { json[baseURL] = s.json }
            if !s.tools { tools[baseURL] = false }
            if !s.seed { seedRefused.insert(baseURL) }
        }
    }

    /// Whether every endpoint of an agent has refused `tools`.
    func refusesTools(_ endpoints: [Endpoint]) -> Bool {
        lock.withLock { endpoints.allSatisfy { tools[$0.baseURL] == false } }
    }

    /// Reads an error reply to a request that sent `body`: when it names a parameter we can do without,
    /// remembers the refusal and says so (the caller then sends again at once, without the parameter).
    func learnRefusal(status code: Int, body text: String, request body: JSONObject, sentOurSeed: Bool,
                      baseURL: String, current: Snapshot) -> Bool {
        guard code == 400 || code == 422 || code == 500 else { return false }
        let lower = text.lowercased()
        if body["response_format"] != nil && (lower.contains("response_format") || lower.contains("json_schema")
            || lower.contains("json_object") || lower.contains("grammar")) {
            lock.withLock { json[baseURL] = JSONMode(rawValue: max(0, current.json.rawValue - 1)) }
            return true
        }
        if sentOurSeed && lower.contains("seed") {
            lock.withLock { _ = seedRefused.insert(baseURL) }
            return true
        }
        if body["tools"] != nil && (lower.contains("tools param") || lower.contains("tool_choice")
            || lower.contains("does not support tools") || (code != 500 && (lower.contains("tool") || lower.contains("function")))) {
            lock.withLock { tools[baseURL] = false }
            return true
        }
        return false
    }
}
