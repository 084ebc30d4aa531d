// Chat completions: the reply of each agent, its content faults, and the completion object around it.

import Foundation

extension MockEngine {
    // MARK: Chat completions

    /// `inBatch`: a line of a batch, counted apart (`batch_chat_completions`) and never given a transport
    /// fault or latency (the batch has its own faults); its reply is the same as sent directly.
    func chatCompletion(_ body: UnsafeRawBufferPointer, inBatch: Bool = false) -> MockOutcome {
        var request: ChatRequest
        do {
            request = try ChatRequest(JSONParser.parse(body, keeping: ChatRequest.keep))
            request.bodyBytes = body.count
        } catch {
            count { $0.countChat(inBatch: inBatch); $0.badRequests += 1 }
            return .respond(badRequest(error), delayNanoseconds: 0)
        }
        let agent = request.agent
        var formatName = "none"
        var rejection: MockResponse?
        switch request.responseFormat {
        case .none:
            break
        case .jsonObject:
            formatName = "json_object"
            if !options.jsonObjectSupport {
                rejection = errorResponse(400, "response_format json_object is not supported", type: "invalid_request_error", param: "response_format")
            }
        case .jsonSchema:
            formatName = "json_schema"
            if !options.jsonSchemaSupport {
                rejection = errorResponse(400, "response_format json_schema is not supported", type: "invalid_request_error", param: "response_format")
            }
        }
        count {
            $0.countChat(inBatch: inBatch)
            $0.agents[agent, default: 0] += 1
            $0.responseFormats[formatName, default: 0] += 1
            if rejection != nil { $0.unsupportedResponseFormat += 1 }
        }
        if rejection == nil, request.seed != nil, !options.seedSupport {
            rejection = errorResponse(400, "Unrecognized request argument supplied: seed", type: "invalid_request_error", param: "seed")
        }
        if let rejection { return .respond(rejection, delayNanoseconds: 0) }

        let draws = drawFaults(chat: true, transport: !inBatch)
        if let outcome = transportOutcome(draws.transport, delay: draws.delayNanoseconds) { return outcome }

        let hash = request.contentHash(seed: options.seed)
        let draw = Draw(base: hash)
        var replies = AgentReplies(request: request, draw: draw, duplicateRate: options.duplicateRate, toolCalls: options.toolCalls)
        replies.replyBytes = options.replyBytes
        var reply = replies.reply(for: agent)
        if agent == .qaGenerator { reply = nearDuplicate(reply, draw: draw, language: replies.languageKey) }
        if draws.transport == .malformed {
            // Chatty prose around a cut-off object: not JSON at all.
            var json: [UInt8] = Array("{\"user_message\": ".utf8)
            if case .content(let value) = reply { json = JSONWriter.serialize(value) }
            let cut = utf8Boundary(json, max(2, json.count * 2 / 5))
            let text = "Sure! Here is the answer: " + String(decoding: json[..<cut], as: UTF8.self)
            return sentInPart(respondChat(request, hash: hash, content: Array(text.utf8), toolCall: nil, delay: draws.delayNanoseconds), draws.transport)
        }
        switch reply {
        case .toolCall(let id, let name, let arguments):
            count { $0.toolCalls += 1 }
            return sentInPart(respondChat(request, hash: hash, content: nil, toolCall: (id, name, arguments), delay: draws.delayNanoseconds), draws.transport)
        case .content(let value):
            var applied: [MockFault] = []
            let text = applyContentFaults(draws.content, to: value, agent: agent, request: request, draw: draw, applied: &applied)
            if !applied.isEmpty {
                count { for fault in applied { $0.faults[fault, default: 0] += 1 } }
            }
            return sentInPart(respondChat(request, hash: hash, content: text, toolCall: nil, delay: draws.delayNanoseconds), draws.transport)
        }
    }

    /// Weak-model faults: alter the reply object, then serialize (and perhaps cut) it.
    func applyContentFaults(_ faults: Set<MockFault>, to value: JSONValue, agent: MockAgent, request: ChatRequest,
                                    draw: Draw, applied: inout [MockFault]) -> [UInt8] {
        var value = value
        let mainField: String
        switch agent {
        case .qaGenerator: mainField = "user_message"
        case .kbResponder: mainField = "assistant_message"
        case .qaJudge, .conversationJudge: mainField = "score"
        case .unknown: mainField = "answer"
        }
        // The serialized JSON is valid UTF-8 (a cut moves back to a character boundary): bytes, no String.
        // Room for a grown reply at once (no copies while the array doubles).
        if faults.isEmpty { return JSONWriter.serialize(value, capacity: 1024 + options.replyBytes) }
        if faults.contains(.wrongLanguage) {
            applied.append(.wrongLanguage)
            switch agent {
            case .qaGenerator: value = value.setting("user_message", to: .string("Wie kann ich das in meinem Projekt am besten einrichten?"))
            case .kbResponder: value = value.setting("assistant_message", to: .string("Das hängt von Ihrer Konfiguration ab; bitte prüfen Sie die Dokumentation."))
            case .qaJudge, .conversationJudge: value = value.setting("notes", to: .string("Die Antwort ist im Großen und Ganzen korrekt."))
            case .unknown: value = value.setting("answer", to: .string("in Ordnung"))
            }
        }
        if faults.contains(.echo), agent == .kbResponder {
            applied.append(.echo)
            // The question itself: the text after the last "Question: " of the prompt, else the whole message.
            let prompt = request.messages.last(where: { $0.role == "user" && $0.content.contains("Question: ") })?.content
                ?? request.last("user") ?? ""
            let question = prompt.components(separatedBy: "Question: ").last ?? prompt
            value = value.setting("assistant_message", to: .string(question))
        }
        if faults.contains(.empty) {
            applied.append(.empty)
            switch agent {
            case .qaGenerator, .kbResponder: value = value.setting(mainField, to: .string(""))
            case .qaJudge, .conversationJudge, .unknown: return []
            }
        }
        if faults.contains(.wrongTypes) {
            applied.append(.wrongTypes)
            switch agent {
            case .qaGenerator:
                value = value.setting("user_message", to: .int(42)).setting("grounding_facts", to: .string("see above"))
            case .kbResponder:
                value = value.setting("assistant_message", to: .int(42)).setting("reasoning_trace", to: .string("n/a"))
            case .qaJudge, .conversationJudge:
                value = value.setting("score", to: .string("high")).setting("reasons", to: .string("none")).setting("question_ok", to: .string("yes"))
            case .unknown:
                value = value.setting("answer", to: .int(1))
            }
        }
        if faults.contains(.missingFields) {
            applied.append(.missingFields)
            value = value.removing(mainField)
        }
        var bytes = JSONWriter.serialize(value)
        if faults.contains(.truncated), bytes.count > 2 {
            applied.append(.truncated)
            let cut = utf8Boundary(bytes, max(1, bytes.count * (30 + draw.index(50, 40)) / 100))
            bytes.removeSubrange(cut...)
        }
        return bytes
    }

    /// `index` moved back so it does not split a UTF-8 sequence.
    func utf8Boundary(_ bytes: [UInt8], _ index: Int) -> Int {
        var i = min(index, bytes.count)
        while i > 0, i < bytes.count, bytes[i] & 0xC0 == 0x80 { i -= 1 }
        return i
    }

    func respondChat(_ request: ChatRequest, hash: UInt64, content: [UInt8]?,
                             toolCall: (id: String, name: String, arguments: String)?, delay: Int64) -> MockOutcome {
        let contentBytes = content?.count ?? 0
        let promptTokens = max(1, request.bodyBytes / 4)
        let completionTokens = max(1, (toolCall.map { $0.arguments.utf8.count + $0.name.utf8.count } ?? contentBytes) / 4)
        var w = JSONWriter(capacity: contentBytes + 400)
        w.raw("{\"id\":\"chatcmpl-")
        w.raw(hex(hash))
        w.raw("\",\"object\":\"chat.completion\",\"created\":")
        w.int(Int(Date().timeIntervalSince1970))
        w.raw(",\"model\":")
        w.string(request.model ?? options.model)
        w.raw(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":")
        if let bytes = content, options.contentParts {
            // Two parts, split at a character boundary: the client has to join them.
            let content = String(decoding: bytes, as: UTF8.self)
            let cut = content.index(content.startIndex, offsetBy: content.count / 2)
            w.raw("[{\"type\":\"text\",\"text\":")
            w.string(String(content[..<cut]))
            w.raw("},{\"type\":\"text\",\"text\":")
            w.string(String(content[cut...]))
            w.raw("}]")
        } else if let content {
            w.string(bytes: content)
        } else {
            w.raw("null")
        }
        if let toolCall {
            w.raw(",\"tool_calls\":[{\"id\":")
            w.string(toolCall.id)
            w.raw(",\"type\":\"function\",\"function\":{\"name\":")
            w.string(toolCall.name)
            w.raw(",\"arguments\":")
            // The arguments are JSON text already: as an object, or (the usual form) as a string.
            if options.objectArguments { w.raw(toolCall.arguments) } else { w.string(toolCall.arguments) }
            w.raw("}}]},\"logprobs\":null,\"finish_reason\":\"tool_calls\"}]")
        } else {
            w.raw("},\"logprobs\":null,\"finish_reason\":\"stop\"}]")
        }
        w.raw(",\"usage\":{\"prompt_tokens\":")
        w.int(promptTokens)
        w.raw(",\"completion_tokens\":")
        w.int(completionTokens)
        w.raw(",\"total_tokens\":")
        w.int(promptTokens + completionTokens)
        w.raw("}}")
        return .respond(MockResponse(status: 200, body: w.bytes), delayNanoseconds: delay)
    }
}
