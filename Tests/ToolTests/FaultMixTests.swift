// A bad day: 20% of the mock's answers are faults of every kind it can make (429 with Retry-After, 500,
// 503, requests held past llm.timeout, connections closed without an answer, replies reset or cut short
// mid-body, replies that are not JSON, JSON cut short, missing fields, wrong types) over a 200-dialogue run.
// The run completes; every dialogue is completed or dropped with a specific reason; the dataset holds
// exactly the completed ones; retries stay bounded, and every transport fault the mock injected is one
// logged retry of the client (a drop on a reused connection may be retried inside libcurl). Prints the
// count per fault kind.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("a bad day") struct FaultMixTests {
    static let faults: [(String, String)] = [
        ("--fault-429", "0.02"), ("--fault-500", "0.02"), ("--fault-503", "0.02"), ("--fault-timeout", "0.02"),
        ("--fault-drop", "0.02"), ("--fault-reset-body", "0.02"), ("--fault-short-body", "0.02"),
        ("--fault-malformed", "0.02"), ("--fault-truncated", "0.02"), ("--fault-missing-fields", "0.01"),
        ("--fault-wrong-types", "0.01"),
    ]

    @Test func theMixAddsUpToTwentyPercent() {
        let total = Self.faults.reduce(0.0) { $0 + (Double($1.1) ?? 0) }
        #expect(abs(total - 0.20) < 1e-9, "\(total)")
    }

    @Test(.timeLimit(.minutes(10)))
    func aRunThroughTwentyPercentFaultsOfEveryKindEndsWithEveryDialogueAccountedFor() async throws {
        let work = try smallProject(label: "fault-mix", total: 200, batch: 64)
        defer { work.cleanup() }
        try work.setConfig("run.max_turns", "2")
        // Held requests cost the client llm.timeout each; 5 s leaves a slow (sanitized, loaded) machine
        // room for the requests that are not held.
        try work.setConfig("llm.timeout", "5")
        try work.setConfig("llm.max_retries", "4")
        let options = ["--seed", "11", "--retry-after", "0"] + Self.faults.flatMap { [$0.0, $0.1] }
        try await withMock(options) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "bad-day", timeout: .seconds(540))
            try #require(r.status == 0, "\(r)")
            let s = try #require(summary, "\(r)")
            #expect(s["completed"]?["en"]?.intValue == 200, "\(r)")
            let stats = try await mock.stats()
            print("fault mix over a 200-dialogue run: mock stats \(stats.serialized())")
            let requests = stats["chat_completions"]?.intValue ?? stats["requests"]?.intValue ?? 0
            let tokens = s["tokens"]?["requests"]?.intValue ?? 0
            // Bounded: at most every attempt of every call retried (max_retries + 1 per call), with calls
            // per dialogue bounded by its turns, regenerations and repairs.
            #expect(requests > 0 && requests < 200 * 2 * 3 * 5 * 3, "requests \(requests), answered \(tokens)")
            // Each injected transport fault reaches the client as a failed attempt, logged. The statuses come
            // only from the mock, so none is logged more often than it was injected; on a loaded machine an
            // injected fault can be logged as a timeout instead (the reply came after llm.timeout), and
            // requests that were not faulted can time out too, so timeouts are at least those injected.
            let retries = try LLMLogRetries(work.file("logs/llm.log").path)
            let injected = stats["faults"]?.objectValue ?? JSONObject()
            func n(_ k: String) -> Int { injected[k]?.intValue ?? 0 }
            func logged(_ k: String) -> Int { retries.byKind[k, default: 0] }
            print("fault mix: retries per fault kind \(retries.byKind.sorted { $0.key < $1.key })")
            for k in ["429", "500", "503"] {
                #expect(logged(k) <= n(k) && logged(k) >= n(k) / 2, "\(k): logged \(logged(k)), injected \(n(k))")
            }
            let cut = n("reset_in_body") + n("short_body")
            // A reply cut mid-body always fails the attempt. A connection closed before any byte of the answer
            // is retried once inside libcurl when it was a reused one (the server may have closed it idle),
            // so only some drops reach the log.
            #expect(logged("connection") <= n("drop") + cut, "\(retries.byKind) vs \(injected)")
            let seen = ["429", "500", "503", "timeout", "connection"].reduce(0) { $0 + logged($1) }
            let sent = ["429", "500", "503", "timeout"].reduce(cut) { $0 + n($1) }
            #expect(seen >= sent, "every injected fault but a silently retried drop costs a logged attempt: \(retries.byKind) vs \(injected)")
            #expect(n("503") > 0 && n("reset_in_body") > 0 && n("short_body") > 0, "\(injected)")
        }
        let finished = try finalCheckpoints(work, runID: "bad-day")
        let known = Set(["dedup_exhausted", "invalid_output", "empty_question", "empty_answer", "echoed_question",
                         "wrong_language", "llm_unavailable", "llm_rejected"])
        var dropped: [String: Int] = [:]
        for d in finished {
            let status = Record.status(d)
            #expect(status != .active, "\(Record.id(d)) is still active")
            if status == .dropped {
                let reason = d["drop_reason"]?.stringValue ?? ""
                #expect(known.contains(reason), "\(Record.id(d)) dropped without a known reason: \(reason)")
                dropped[reason, default: 0] += 1
            }
        }
        print("fault mix: \(finished.count) finished dialogues, dropped per reason \(dropped)")
        // No silent rows: the dataset holds exactly the completed dialogues, each once.
        let completed = Set(finished.filter { Record.status($0) == .completed }.map(Record.id))
        let index = try work.records("outputs/conversations_index.jsonl").compactMap { $0["conversation_id"]?.stringValue }
        #expect(Set(index) == completed && index.count == completed.count, "index \(index.count), completed \(completed.count)")
        for t in try work.records("outputs/turns.jsonl") {
            #expect(completed.contains(t["conversation_id"]?.stringValue ?? ""), "a turn of a dialogue that is not completed")
            let answer = t["assistant_message"]?.stringValue ?? ""
            #expect(!answer.isEmpty, "an empty answer in the dataset")
        }
    }
}

/// The failed attempts `logs/llm.log` records, by kind: the HTTP status, `timeout`, `connection` (reset,
/// closed, cut short) or `malformed` (HTTP 200 that is not a chat completion).
struct LLMLogRetries {
    var byKind: [String: Int] = [:]

    init(_ path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        for line in text.split(separator: "\n") {
            if let r = line.range(of: " status=") , !line.contains("status=200 ") || line.contains("error=malformed") {
                let code = line[r.upperBound...].prefix { $0.isNumber }
                if line.contains("error=malformed") { byKind["malformed", default: 0] += 1 } else { byKind[String(code), default: 0] += 1 }
            } else if line.contains("error=timed out") {
                byKind["timeout", default: 0] += 1
            } else if line.contains("error=connection error") {
                byKind["connection", default: 0] += 1
            }
        }
    }
}
