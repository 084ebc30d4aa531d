// The retry ladder, the per-endpoint memory of refused parameters, and endpoint routing, without a server.

@testable import DlgCore
import Foundation
import Testing

@Suite struct RetryPolicyTests {
    @Test func backoffDoublesWithJitterAndHonoursRetryAfter() {
        for _ in 0..<50 {
            let first = RetryPolicy.delay(attempt: 1, retryAfter: nil)
            #expect(first >= 0.25 && first < 0.5)
            let third = RetryPolicy.delay(attempt: 3, retryAfter: nil)
            #expect(third >= 1 && third < 2)
            #expect(RetryPolicy.delay(attempt: 20, retryAfter: nil) <= 30)
            #expect(RetryPolicy.delay(attempt: 1, retryAfter: 7) == 7)
            #expect(RetryPolicy.delay(attempt: 1, retryAfter: 9999) == 120, "Retry-After is capped at 2 minutes")
        }
    }

    @Test func finalAndBadReplyStatuses() {
        #expect([400, 401, 403, 404, 422].allSatisfy(RetryPolicy.isFinal))
        #expect(![429, 500, 502, 503].contains(where: RetryPolicy.isFinal))
        #expect(RetryPolicy.isBadReply(500) && RetryPolicy.isBadReply(413))
        #expect(!RetryPolicy.isBadReply(429) && !RetryPolicy.isBadReply(502) && !RetryPolicy.isBadReply(503))
    }
}

@Suite struct EndpointCapabilitiesTests {
    let url = "http://127.0.0.1:1/v1"

    func refuse(_ c: EndpointCapabilities, _ code: Int, _ body: String, request: JSONObject, seed: Bool = false) -> Bool {
        c.learnRefusal(status: code, body: body, request: request, sentOurSeed: seed, baseURL: url, current: c.snapshot(url))
    }

    @Test func jsonModeStepsDownOneLevelAtATime() {
        let c = EndpointCapabilities()
        #expect(c.snapshot(url).json == .jsonSchema && c.snapshot(url).tools && c.snapshot(url).seed)
        let request: JSONObject = ["response_format": .obj(["type": "json_schema"])]
        #expect(refuse(c, 400, "response_format json_schema is not supported", request: request))
        #expect(c.snapshot(url).json == .jsonObject)
        #expect(refuse(c, 500, "failed to parse grammar", request: request))
        #expect(c.snapshot(url).json == .text)
        #expect(c.snapshot("http://other/v1").json == .jsonSchema, "per endpoint")
    }

    @Test func seedAndToolsAreRememberedOnlyWhenTheBodyNamesThem() {
        let c = EndpointCapabilities()
        #expect(!refuse(c, 400, "Unrecognized request argument supplied: seed", request: [:], seed: false), "not our seed")
        #expect(refuse(c, 400, "Unrecognized request argument supplied: seed", request: [:], seed: true))
        #expect(!c.snapshot(url).seed)
        let tools: JSONObject = ["tools": []]
        #expect(!refuse(c, 500, "tool crashed", request: tools), "a 500 must name the tools parameter")
        #expect(!refuse(c, 429, "tools param", request: tools), "429 is never a refusal")
        #expect(refuse(c, 400, "this model does not support tools", request: tools))
        #expect(!c.snapshot(url).tools)
        #expect(c.refusesTools([Endpoint(name: "a", baseURL: url, apiKey: "", weight: 1, maxInFlight: 0, timeout: nil, model: "")]))
    }
}

@Suite struct EndpointRouterTests {
    static func endpoint(_ name: String, weight: Double = 1, maxInFlight: Int = 0) -> Endpoint {
        Endpoint(name: name, baseURL: "http://\(name)/v1", apiKey: "", weight: weight, maxInFlight: maxInFlight, timeout: nil, model: "")
    }

    @Test func theLeastLoadedEndpointIsPicked() {
        let router = EndpointRouter()
        let a = Self.endpoint("a"), b = Self.endpoint("b")
        router.begin(a); router.begin(a)
        for _ in 0..<20 { #expect(router.pick([a, b]).name == "b") }
        let full = Self.endpoint("full", weight: 100, maxInFlight: 1)
        router.begin(full)
        for _ in 0..<20 { #expect(router.pick([full, b]).name == "b", "an endpoint at max_in_flight is the last choice") }
        router.end(a, elapsed: 0.1); router.end(a, elapsed: 0.1)
        #expect(router.pick([Self.endpoint("only")]).name == "only")
    }
}
