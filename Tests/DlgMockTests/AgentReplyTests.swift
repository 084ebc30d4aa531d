// Reply content per agent: shape, determinism, duplicates, tool calls.

import DlgMock
import Foundation
import Testing

@Suite struct AgentReplyTests {
    static let intents: Set = ["clarify", "how_to", "troubleshoot", "compare", "edge_case", "example_request", "decision_support", "constraints"]

    @Test func generatorReplyHasAllFields() async throws {
        try await withMockServer { client, _ in
            let reply = try await client.chat(generatorRequest(snippet: "Refunds require manager approval within 30 days.", topic: "refund-policy"))
            #expect(reply.status == 200)
            let json = try reply.json()
            #expect(json["object"] as? String == "chat.completion")
            #expect(json["model"] as? String == "test-model")
            #expect((json["id"] as? String)?.hasPrefix("chatcmpl-") == true)
            let choice = try #require((json["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "stop")
            let usage = try #require(json["usage"] as? [String: Int])
            #expect(usage["total_tokens"] == usage["prompt_tokens"]! + usage["completion_tokens"]!)
            #expect(usage["completion_tokens"]! >= 1)

            let content = try reply.contentJSON()
            let question = try #require(content["user_message"] as? String)
            #expect(question.hasSuffix("?"))
            #expect(Self.intents.contains(content["intent"] as? String ?? ""))
            #expect(["easy", "medium", "hard"].contains(content["difficulty"] as? String ?? ""))
            #expect(content["coverage_target"] as? String == "refund-policy")
            let facts = try #require(content["grounding_facts"] as? [[String: String]])
            #expect(!facts.isEmpty && facts.allSatisfy { $0["fact"] != nil && $0["source_descriptor"] != nil })
            #expect((content["notes_for_assistant"] as? [String])?.isEmpty == false)
        }
    }

    @Test func coverageTargetDefaultsToGeneral() async throws {
        try await withMockServer { client, _ in
            let request: [String: Any] = ["messages": [
                ["role": "system", "content": "agent: qa_generator"],
                ["role": "user", "content": "Our printers jam when the paper tray is overfilled."],
            ]]
            let content = try await client.chat(request).contentJSON()
            #expect(content["coverage_target"] as? String == "general")
            #expect((content["user_message"] as? String)?.hasSuffix("?") == true)
        }
    }

    @Test func sameRequestSameContentAcrossServers() async throws {
        let request = generatorRequest(snippet: "Exports run nightly and keep 14 days of history.")
        var contents: [String] = []
        for _ in 0..<2 {
            try await withMockServer(mockOptions { $0.seed = 42 }) { client, _ in
                contents.append(try await client.chat(request).content())
                contents.append(try await client.chat(request).content())
            }
        }
        #expect(Set(contents).count == 1)
        try await withMockServer(mockOptions { $0.seed = 43 }) { client, _ in
            let reply59 = try await client.chat(request).content()
            #expect(reply59 != contents[0])
        }
    }

    @Test func theRequestSeedSamplesAnotherReplyForTheSamePrompt() async throws {
        try await withMockServer { client, _ in
            func question(seed: Int?) async throws -> String {
                var request = generatorRequest(snippet: "Exports run nightly and keep 14 days of history.")
                if let seed { request["seed"] = seed }
                return try #require(try await client.chat(request).contentJSON()["user_message"] as? String)
            }
            let unseeded = try await question(seed: nil)
            #expect(try await question(seed: nil) == unseeded)
            let seeded = try await question(seed: 7)
            #expect(try await question(seed: 7) == seeded)
            var questions: Set = [unseeded, seeded]
            for seed in 8..<20 { questions.insert(try await question(seed: seed)) }
            #expect(questions.count == 14)
        }
    }

    @Test func differentRequestsGiveDifferentQuestions() async throws {
        try await withMockServer { client, _ in
            var questions = Set<String>()
            // The same snippet with small prompt changes (as retries and dialogues make) still varies.
            for i in 0..<150 {
                let request = generatorRequest(snippet: "Refunds require manager approval within 30 days. Dialogue \(i % 10).", topic: "topic-\(i / 10)")
                let question = try #require(try await client.chat(request).contentJSON()["user_message"] as? String)
                questions.insert(normalized(question))
            }
            #expect(questions.count == 150)
        }
    }

    @Test func duplicateRateOneDrawsFromThePool() async throws {
        try await withMockServer(mockOptions { $0.duplicateRate = 1 }) { client, _ in
            var questions = Set<String>()
            for i in 0..<12 {
                let content = try await client.chat(generatorRequest(snippet: "Snippet number \(i) about storage quotas.")).contentJSON()
                questions.insert(try #require(content["user_message"] as? String))
            }
            #expect(questions.isSubset(of: ["What is this system used for?", "How do I get started with this?", "Can you explain how this works?"]))
            #expect(questions.count >= 2)
        }
    }

    @Test func partialDuplicateRateEscapesOnRetry() async throws {
        try await withMockServer(mockOptions { $0.duplicateRate = 0.5 }) { client, _ in
            var pooled = 0
            var escaped = 0
            for i in 0..<40 {
                let base = generatorRequest(snippet: "Backups are encrypted at rest, batch \(i).")
                let first = try #require(try await client.chat(base).contentJSON()["user_message"] as? String)
                guard first.hasPrefix("What is this") || first.hasPrefix("How do I get started") || first.hasPrefix("Can you explain how") else { continue }
                pooled += 1
                var retry = base
                var messages = try #require(base["messages"] as? [[String: Any]])
                messages.append(["role": "user", "content": "Rejected (duplicate): \(first)"])
                retry["messages"] = messages
                let second = try #require(try await client.chat(retry).contentJSON()["user_message"] as? String)
                if second != first { escaped += 1 }
            }
            #expect(pooled > 5 && pooled < 35)
            #expect(escaped >= pooled / 3)
        }
    }

    @Test func responderCallsTheToolThenAnswers() async throws {
        try await withMockServer { client, server in
            let question = "How do refunds work for annual plans?"
            let first = try await client.chat(responderRequest(question: question))
            let firstJSON = try first.json()
            let choice = try #require((firstJSON["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "tool_calls")
            let message = try first.message()
            #expect(message["content"] is NSNull || (message["content"] as? String)?.isEmpty == true)
            let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
            #expect((call["id"] as? String)?.hasPrefix("call_") == true)
            #expect(call["type"] as? String == "function")
            let function = try #require(call["function"] as? [String: String])
            #expect(function["name"] == "vector_db_search")
            let arguments = try #require(try JSONSerialization.jsonObject(with: Data(function["arguments"]!.utf8)) as? [String: Any])
            #expect((arguments["query"] as? String)?.contains("refunds") == true)
            #expect(arguments["k"] as? Int == 3)

            let snippet = "Refunds for annual plans are prorated to the day."
            let final = try await client.chat(responderRequest(question: question, toolResult: "[{\"text\": \"\(snippet)\", \"source\": \"billing.md\"}]"))
            let content = try final.contentJSON()
            let answer = try #require(content["assistant_message"] as? String)
            #expect(answer.contains(snippet))
            #expect(content["did_web_search"] as? Bool == false)
            let trace = try #require(content["reasoning_trace"] as? [String: Any])
            #expect(trace["question"] as? String == question)
            let evidence = try #require((trace["evidence"] as? [[String: Any]])?.first)
            #expect(evidence["id"] as? String == "E1")
            #expect((evidence["cue"] as? String)?.hasPrefix("KB: ") == true)
            #expect((evidence["content"] as? String)?.contains("prorated") == true)
            #expect(((trace["premises"] as? [[String: Any]])?.first?["evidence_refs"] as? [String]) == ["E1"])
            #expect((trace["thinking"] as? [[String: Any]])?.isEmpty == false)
            #expect(["low", "medium", "high"].contains(trace["confidence"] as? String ?? ""))
            #expect(trace["known_limits"] as? [String] != nil)
            let queries = try #require(trace["retrieval_queries"] as? [String: [String]])
            #expect(queries["web_search"] == [])
            #expect(server.stats.toolCalls == 1)
        }
    }

    @Test func responderAnswersDirectlyWithoutToolCalls() async throws {
        try await withMockServer(mockOptions { $0.toolCalls = false }) { client, _ in
            let reply = try await client.chat(responderRequest(question: "Can I export invoices as CSV?"))
            let content = try reply.contentJSON()
            #expect((content["assistant_message"] as? String)?.isEmpty == false)
        }
    }

    @Test(arguments: ["qa_judge", "conversation_judge"])
    func judgesScoreWithinRange(agent: String) async throws {
        try await withMockServer { client, server in
            var scores: [Int] = []
            for i in 0..<20 {
                let content = try await client.chat(judgeRequest(agent, extra: " run \(i)")).contentJSON()
                let score = try #require(content["score"] as? Int)
                scores.append(score)
                #expect((0...10).contains(score))
                let reasons = try #require(content["reasons"] as? [String])
                #expect(reasons.count <= 2)
                #expect(Set(reasons).isSubset(of: ["irrelevant", "incorrect", "hallucinated", "weak_grounding", "vague", "incomplete", "unsafe", "other"]))
                #expect(content["notes"] is String)
                #expect(content["question_ok"] is Bool)
                #expect(content["answer_ok"] is Bool)
            }
            #expect(scores.filter { $0 >= 6 }.count >= 12)
            #expect(server.stats.agents[agent == "qa_judge" ? .qaJudge : .conversationJudge] == 20)
        }
    }

    /// The project's prompts put passages and history before a last "Question: ..." line: the trace
    /// restates that question only, and the tool query comes from it, not from the passages.
    @Test func responderTakesTheQuestionAfterItsMarker() async throws {
        try await withMockServer { client, _ in
            let question = "How long do refunds for annual plans take?"
            let prompt = "Passages:\n[topic_id: 1 | billing]\nInvoices are issued monthly by the finance team.\n\nQuestion: \(question)\n"
            let message = try await client.chat(responderRequest(question: prompt)).message()
            let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
            let function = try #require(call["function"] as? [String: String])
            let arguments = try #require(try JSONSerialization.jsonObject(with: Data(function["arguments"]!.utf8)) as? [String: Any])
            let query = try #require(arguments["query"] as? String)
            #expect(query.contains("refunds") && !query.contains("invoices"), "\(query)")
            let final = try await client.chat(responderRequest(question: prompt, toolResult: "[{\"text\": \"Refunds take five days.\"}]"))
            let trace = try #require(try final.contentJSON()["reasoning_trace"] as? [String: Any])
            #expect(trace["question"] as? String == question)
        }
    }

    @Test func judgeUsesTheAllowedReasonsFromThePrompt() async throws {
        try await withMockServer { client, _ in
            var seen = Set<String>()
            for i in 0..<40 {
                let extra = "\nAllowed reasons: [\"off_topic\", \"too_long\", \"made_up\"] (case \(i))"
                let content = try await client.chat(judgeRequest("qa_judge", extra: extra)).contentJSON()
                seen.formUnion(try #require(content["reasons"] as? [String]))
            }
            #expect(!seen.isEmpty)
            #expect(seen.isSubset(of: ["off_topic", "too_long", "made_up"]))
        }
    }

    @Test func schemaNameWinsOverTheSystemMarker() async throws {
        try await withMockServer { client, _ in
            var request = judgeRequest("kb_responder")
            request["response_format"] = ["type": "json_schema", "json_schema": ["name": "conversation_judge", "schema": [:]]]
            let reply195 = try await client.chat(request).contentJSON()
            #expect(reply195["score"] is Int)
        }
    }

    @Test func unknownAgentRepliesOk() async throws {
        try await withMockServer { client, _ in
            let reply = try await client.chat(["messages": [["role": "user", "content": "Hello there"]]])
            #expect(try reply.content() == #"{"answer":"ok"}"#)
            #expect(try reply.json()["model"] as? String == "mock-model")
        }
    }
}
