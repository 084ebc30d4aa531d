// The limits of a run hold across its four stage processes: max_in_flight of an endpoint is one
// ceiling for all of them together, and a requests-per-minute limit holds in every 60 s window of what
// the server received.

import DlgCore
import DlgTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// GET `/stats/requests` of a mock started with `--request-log`: chat arrivals in seconds, sorted.
func chatArrivals(_ mock: MockServerProcess) async throws -> [Double] {
    let root = mock.baseURL.hasSuffix("/v1") ? String(mock.baseURL.dropLast(3)) : mock.baseURL
    let (data, _) = try await URLSession.shared.data(from: URL(string: root + "/stats/requests")!)
    let list = try #require(try JSONCodec.parse([UInt8](data))["arrivals_ms"]?.arrayValue)
    return list.compactMap { $0.doubleValue.map { $0 / 1000 } }.sorted()
}

@Suite("limits across a run") struct LimitsToolTests {
    @Test func theStagesOfOneRunTogetherNeverExceedMaxInFlight() async throws {
        let work = try smallProject(label: "limits-inflight", total: 8, batch: 8)
        defer { work.cleanup() }
        try await withMock(["--seed", "5", "--latency-ms", "40"]) { mock in
            try work.setConfig("llm.routing", "{endpoints: [{name: gpu, base_url: \"\(mock.baseURL)\", max_in_flight: 2}]}")
            let (r, summary) = try await runDlgRun(work, mock, runID: "shared-gate")
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 8])
            let stats = try await mock.stats()
            // Eight dialogues in flight through three stages that call the server, each allowed
            // max_in_flight on its own before: together they kept to 2, and used both.
            #expect(stats["in_flight_peak"]?.intValue == 2, "peak in flight at the server: \(stats["in_flight_peak"]?.serialized() ?? "nil")")
            for agent in ["qa_generator", "kb_responder", "qa_judge"] {
                #expect((stats["agents"]?[agent]?.intValue ?? 0) > 0, "\(agent) made no request: \(stats.serialized())")
            }
        }
    }

    @Test func aRequestsPerMinuteLimitHoldsInEveryMinuteOfTheRunAndTheRunEnds() async throws {
        // About 760 requests (8 per dialogue of 2 turns) at 600 a minute: the run needs more than a minute.
        let work = try smallProject(label: "limits-rpm", total: 95, batch: 16)
        defer { work.cleanup() }
        try work.setConfig("run.min_turns", "2")
        try work.setConfig("run.max_turns", "2")
        try work.setConfig("llm.rate_limit", "{requests_per_minute: 600}")
        try await withMock(["--seed", "7", "--request-log"]) { mock in
            // The run ends: 760 requests at 600 a minute need 76 s, and the timeout (a bound on a hang, not a
            // measure of speed) leaves a machine loaded by the whole suite room (95 s seen there).
            let (r, summary) = try await runDlgRun(work, mock, runID: "rpm", timeout: .seconds(150))
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 95])
            let arrivals = try await chatArrivals(mock)
            #expect(arrivals.count > 600, "only \(arrivals.count) requests: the check needs more than a minute's worth")
            #expect(arrivals.last! - arrivals.first! > 60, "the requests spread over \(arrivals.last! - arrivals.first!) s")
            var busiest = 0, j = 0
            for i in arrivals.indices {
                while arrivals[j] <= arrivals[i] - 60 { j += 1 }
                busiest = max(busiest, i - j + 1)
            }
            #expect(busiest <= 600, "\(busiest) requests in one 60 s window")
            // Crawling under the limit, counted: the busiest minute carries nearly the limit.
            #expect(busiest >= 540, "the limit was used, not crawled under: \(busiest) in the busiest minute")
        }
    }
}
