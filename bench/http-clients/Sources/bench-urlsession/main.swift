// Candidate 1: FoundationNetworking's URLSession (`data(for:)`), connections per host raised to 512.
import BenchSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let options = Options.parse()
let configuration = URLSessionConfiguration.default
configuration.httpMaximumConnectionsPerHost = 512
configuration.timeoutIntervalForRequest = options.timeoutSeconds
configuration.urlCache = nil
let session = URLSession(configuration: configuration)

var template = URLRequest(url: URL(string: options.chatURL)!)
template.httpMethod = "POST"
for (name, value) in requestHeaders { template.setValue(value, forHTTPHeaderField: name) }
template.httpBody = Data(requestBody)
let request = template

await runBenchmark(client: "urlsession", options: options) {
    do {
        let (data, response) = try await session.data(for: request)
        return check(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    } catch {
        return .error("\(error)")
    }
}
session.invalidateAndCancel()
