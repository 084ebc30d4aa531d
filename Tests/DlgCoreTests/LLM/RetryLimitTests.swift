// How many attempts a call makes when every one meets a transient fault: max_retries + 1 when nobody
// is being served (the server is down: the stage stops, exit 69), up to twice that while other calls
// are answered meanwhile (an unlucky call, not an outage: a 20%-fault day would otherwise stop runs).

@testable import DlgCore
import DlgMock
import DlgTestSupport
import Foundation
import Testing

@Suite struct RetryLimitTests {
    static let format = ResponseFormat.json(name: "kb_responder", schema: anyObjectSchema)

    @Test func a503OnEveryAttemptWithNobodyServedFailsAfterMaxRetries() async throws {
        try await withInProcessMock(mockOptions { $0.faults.serviceUnavailable = 1 }) { server, baseURL in
            do {
                _ = try await LLMClient(logsDir: nil).chat(agent: testAgent(baseURL: baseURL, maxRetries: 1),
                                                           messages: responderMessages("q?"), format: Self.format)
                Issue.record("expected a failure")
            } catch let error as LLMFailure {
                #expect(error.kind == .unavailable, "\(error)")
                #expect(error.message.contains("HTTP 503") && error.message.contains("after 2 attempts"), "\(error.message)")
            }
            #expect(server.stats.chatCompletions == 2, "max_retries 1: two attempts")
        }
    }

    @Test func whileOtherCallsAreAnsweredAFailingCallTriesUpToTwiceAsOften() async throws {
        try await withInProcessMock { healthy, healthyURL in
            try await withInProcessMock(mockOptions { $0.faults.resetInBody = 1 }) { failing, failingURL in
                let client = LLMClient(logsDir: nil)
                let done = Locked(false)
                // Other calls answered all along (another agent on another server, same client).
                let others = Task {
                    var n = 0
                    while !done.value {
                        _ = try? await client.chat(agent: testAgent(.qaJudge, baseURL: healthyURL), messages: responderMessages("q\(n)?"),
                                                   format: Self.format)
                        n += 1
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                    return n
                }
                do {
                    _ = try await client.chat(agent: testAgent(baseURL: failingURL, maxRetries: 1), messages: responderMessages("q?"),
                                              format: Self.format)
                    Issue.record("expected a failure")
                } catch let error as LLMFailure {
                    #expect(error.kind == .unavailable && error.message.contains("connection error"), "\(error)")
                }
                done.value = true
                let served = await others.value
                #expect(served > 0)
                #expect(failing.stats.chatCompletions == 4, "max_retries 1 doubled: four attempts while \(served) others were served")
                #expect(healthy.stats.chatCompletions >= served)
            }
        }
    }
}

/// A value shared with a task.
final class Locked<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
