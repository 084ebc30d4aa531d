// Candidate 2: libcurl's multi interface on one event thread (CurlTransport.swift, copied verbatim
// from the project).
import BenchSupport

let options = Options.parse()
let transport = CurlTransport()
let headers = requestHeaders.map { "\($0.0): \($0.1)" }
let url = options.chatURL
let timeout = options.timeoutSeconds

await runBenchmark(client: "curl", options: options) {
    switch await transport.perform(url: url, method: "POST", headers: headers, body: requestBody, timeout: timeout) {
    case .response(let response): return check(status: response.status, body: response.body)
    case .failed(let message, _): return .error(message)
    }
}
