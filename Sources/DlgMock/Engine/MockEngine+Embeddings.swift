// Embeddings: deterministic bag-of-words vectors.

import Foundation

extension MockEngine {
    // MARK: Embeddings

    static let embeddingDimensions = 64

    func embeddings(_ body: UnsafeRawBufferPointer) -> MockOutcome {
        let inputs: [String]
        let model: String
        do {
            let json = try JSONParser.parse(body, keeping: .members([("input", .all), ("model", .all)]))
            guard case .object = json else { throw BadRequest(message: "the request body must be a JSON object") }
            switch json["input"] {
            case .string(let s)?: inputs = [s]
            case .array(let elements)? where !elements.isEmpty && elements.allSatisfy({ $0.stringValue != nil }):
                inputs = elements.compactMap(\.stringValue)
            default:
                throw BadRequest(message: "'input' must be a string or a non-empty array of strings", param: "input")
            }
            model = json["model"]?.stringValue ?? options.model
        } catch {
            count { $0.requests += 1; $0.embeddings += 1; $0.badRequests += 1 }
            return .respond(badRequest(error), delayNanoseconds: 0)
        }
        count { $0.requests += 1; $0.embeddings += 1 }
        let draws = drawFaults(chat: false)
        if let outcome = transportOutcome(draws.transport, delay: draws.delayNanoseconds) { return outcome }

        var w = JSONWriter(capacity: inputs.count * 700 + 128)
        w.raw("{\"object\":\"list\",\"data\":[")
        var tokens = 0
        for (index, text) in inputs.enumerated() {
            if index > 0 { w.raw(",") }
            w.raw("{\"object\":\"embedding\",\"index\":")
            w.int(index)
            w.raw(",\"embedding\":[")
            for (i, x) in MockEngine.embed(text).enumerated() {
                if i > 0 { w.raw(",") }
                w.float(x)
            }
            w.raw("]}")
            tokens += max(1, text.utf8.count / 4)
        }
        w.raw("],\"model\":")
        w.string(model)
        w.raw(",\"usage\":{\"prompt_tokens\":")
        w.int(tokens)
        w.raw(",\"total_tokens\":")
        w.int(tokens)
        w.raw("}}")
        var bytes = w.bytes
        if draws.transport == .malformed {
            bytes.removeSubrange((bytes.count / 2)...)
        }
        return sentInPart(.respond(MockResponse(status: 200, body: bytes), delayNanoseconds: draws.delayNanoseconds), draws.transport)
    }

    /// A deterministic, L2-normalised bag-of-words vector: each lowercase word adds ±1 to one of 64 buckets.
    static func embed(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: embeddingDimensions)
        let words = WordList(text, scanBytes: .max)
        for i in 0..<words.count {
            let h = mix64(words.stableHash(i))
            vector[Int(h % UInt64(embeddingDimensions))] += (h >> 63) == 0 ? 1 : -1
        }
        var norm: Float = 0
        for x in vector { norm += x * x }
        if norm == 0 {
            vector[0] = 1
            return vector
        }
        let scale = 1 / norm.squareRoot()
        return vector.map { $0 * scale }
    }
}
