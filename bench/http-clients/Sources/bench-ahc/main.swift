// Candidate 3: AsyncHTTPClient on one NIO event loop thread (like CurlTransport's one event thread),
// connection pool soft limit raised to 512.
import AsyncHTTPClient
import BenchSupport
import NIOCore
import NIOPosix

let options = Options.parse()
// One event loop thread, like CurlTransport's one event thread. The singleton group is never shut
// down; with a private group shut down after the client, NIO sometimes logged "Cannot schedule tasks
// on an EventLoop that has already shut down" at exit.
NIOSingletons.groupLoopCountSuggestion = 1
let group = MultiThreadedEventLoopGroup.singleton
var configuration = HTTPClient.Configuration()
configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
let client = HTTPClient(eventLoopGroup: group, configuration: configuration)

var template = HTTPClientRequest(url: options.chatURL)
template.method = .POST
for (name, value) in requestHeaders { template.headers.add(name: name, value: value) }
template.body = .bytes(ByteBuffer(bytes: requestBody))
let request = template
let timeout = TimeAmount.milliseconds(Int64(options.timeoutSeconds * 1000))

// runBenchmark does not throw: every path reaches the shutdown below.
await runBenchmark(client: "ahc", options: options) {
    do {
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 << 20)
        return check(status: Int(response.status.code), body: body.readableBytesView)
    } catch {
        return .error("\(error)")
    }
}
do {
    try await client.shutdown().get()
} catch {
    fail("shutdown: \(error)")
}
