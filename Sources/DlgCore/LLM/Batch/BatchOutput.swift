import Foundation

/// Reads an ended batch's output and error files into one result per `custom_id`. A line of either
/// file is `{"custom_id", "response": {"status_code", "body"}, "error"}`: a response is what the
/// request would have got directly (a 200 in the output file, an error status in the error file); a
/// line with no response (`batch_expired`, `batch_cancelled`) was never answered.
enum BatchOutput {
    static func read(_ batch: BatchObject, api: BatchAPI) async throws(DlgError) -> [String: BatchLineResult] {
        var results: [String: BatchLineResult] = [:]
        // The error file first: a request answered in the output file as well counts as answered.
        for fileID in [batch.errorFileID, batch.outputFileID].compactMap({ $0 }) where !fileID.isEmpty {
            parse(try await api.content(fileID), into: &results)
        }
        return results
    }

    static func parse(_ bytes: [UInt8], into results: inout [String: BatchLineResult]) {
        for line in bytes.split(separator: 0x0A) {
            guard let json = try? JSONCodec.parse(line), let id = json["custom_id"]?.stringValue else { continue }
            if let response = json["response"], let status = response["status_code"]?.intValue, let body = response["body"] {
                results[id] = .reply(status: status, body: body.compactBytes())
            } else {
                let code = json["error"]?["code"]?.stringValue ?? "no_response"
                let message = json["error"]?["message"]?.stringValue ?? "no response"
                results[id] = .unanswered("\(code): \(message)")
            }
        }
    }
}
