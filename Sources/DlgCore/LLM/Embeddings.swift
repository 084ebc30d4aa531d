import Foundation

extension LLMClient {
    /// Embeddings for `texts` from `/embeddings`, in order.
    public func embed(endpoint: Endpoint, model: String, texts: [String], timeout: Double = 120) async throws(LLMFailure) -> [[Double]] {
        var bytes: [UInt8] = []
        JSON.obj(["model": .string(model), "input": JSON(texts)]).write(into: &bytes)
        let cacheKey = cache.map { _ in ResponseCache.key("embeddings", .obj(["model": .string(model), "input": JSON(texts)])) }
        if let cacheKey, let data = cache?.get(cacheKey), let rows = (try? JSONCodec.parse(data))?.arrayValue,
           rows.count == texts.count {
            return rows.map { $0.arrayValue?.compactMap { $0.doubleValue } ?? [] }
        }
        for attempt in 0..<4 {
            switch convert(await transport.perform(url: endpoint.baseURL + "/embeddings", method: "POST",
                                                   headers: headers(endpoint.apiKey), body: bytes, timeout: timeout,
                                                   maxResponseBytes: layer.maxResponseBytes)) {
            case .success(let data):
                guard let reply = try? JSONCodec.parse(data), let items = reply["data"]?.arrayValue else {
                    throw LLMFailure(kind: .invalidReply, message: "\(endpoint.name): embeddings reply is not valid")
                }
                var out = [[Double]](repeating: [], count: texts.count)
                for (i, item) in items.enumerated() {
                    let index = item["index"]?.intValue ?? i
                    guard index < out.count, let v = item["embedding"]?.arrayValue else { continue }
                    out[index] = v.compactMap { $0.doubleValue }
                }
                if let cacheKey {
                    var stored: [UInt8] = []
                    JSON.array(out.map { .array($0.map { .double($0) }) }).write(into: &stored)
                    cache?.put(cacheKey, stored)
                }
                return out
            case .status(let code, _, let ra) where code == 429 || code >= 500:
                try await RetryPolicy.sleep(attempt: attempt + 1, retryAfter: ra)
            case .status(let code, _, _):
                throw LLMFailure(kind: .rejected, message: "\(endpoint.name): embeddings HTTP \(code)")
            case .tooLarge(let limit):
                throw LLMFailure(kind: .rejected, message: Self.tooLargeMessage(endpoint.name, limit))
            case .failed(let reason, _):
                if attempt == 3 { throw LLMFailure(kind: .unavailable, message: "\(endpoint.name): \(reason)") }
                try await RetryPolicy.sleep(attempt: attempt + 1, retryAfter: nil)
            }
        }
        throw LLMFailure(kind: .unavailable, message: "\(endpoint.name): embeddings failed")
    }
}
