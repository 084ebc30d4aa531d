// The faults that cut a reply mid-body, seen from a raw socket: the head announces the full
// Content-Length, half the body arrives, then the connection is reset (RST) or closed (FIN); and 503.

@testable import DlgMock
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Sends one raw HTTP request to 127.0.0.1:`port` and reads until the server closes or resets.
private func rawExchange(port: Int, body: [String: Any]) throws -> (bytes: [UInt8], errno: Int32) {
    let payload = try JSONSerialization.data(withJSONObject: body)
    let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(connected == 0)
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array(head.utf8) + [UInt8](payload)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, 0) }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        if n > 0 { received += chunk[..<n]; continue }
        return (received, n == 0 ? 0 : errno)
    }
}

/// The announced Content-Length and the body bytes that came after the head.
private func split(_ bytes: [UInt8]) throws -> (status: String, announced: Int, body: Int) {
    let text = String(decoding: bytes, as: UTF8.self)
    let end = try #require(text.range(of: "\r\n\r\n"))
    let head = text[..<end.lowerBound].lowercased()
    let status = String(head.split(separator: "\r\n").first ?? "")
    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? -1
    let headBytes = text[..<end.upperBound].utf8.count
    return (status, length, bytes.count - headBytes)
}

@Suite struct CutReplyTests {
    @Test func resetInBodySendsHalfTheAnnouncedBodyThenAReset() async throws {
        let server = MockServer(options: mockOptions { $0.faults.resetInBody = 1 })
        let port = try await server.start()
        defer { Task { await server.stop() } }
        let (bytes, error) = try rawExchange(port: port, body: judgeRequest("qa_judge"))
        let reply = try split(bytes)
        #expect(reply.status.hasPrefix("http/1.1 200"))
        #expect(reply.announced > 0 && reply.body == reply.announced / 2, "\(reply)")
        #expect(error == ECONNRESET, "errno \(error)")
        #expect(server.stats.faults[.resetInBody] == 1)
    }

    @Test func shortBodyClosesAfterHalfTheAnnouncedBody() async throws {
        let server = MockServer(options: mockOptions { $0.faults.shortBody = 1 })
        let port = try await server.start()
        defer { Task { await server.stop() } }
        let (bytes, error) = try rawExchange(port: port, body: generatorRequest(snippet: "Anything."))
        let reply = try split(bytes)
        #expect(reply.announced > 0 && reply.body == reply.announced / 2, "\(reply)")
        #expect(error == 0, "an orderly close, errno \(error)")
        #expect(server.stats.faults[.shortBody] == 1)
    }

    @Test func serviceUnavailableIs503() async throws {
        try await withMockServer(mockOptions { $0.faults.serviceUnavailable = 1 }) { client, server in
            let reply = try await client.chat(judgeRequest("qa_judge"))
            #expect(reply.status == 503)
            #expect(try reply.json()["error"] != nil)
            #expect(server.stats.faults[.serviceUnavailable] == 1)
        }
    }

    @Test func theNewTransportFaultsCountTowardsTheExclusiveSum() {
        let options = mockOptions { $0.faults.serviceUnavailable = 0.5; $0.faults.resetInBody = 0.3; $0.faults.shortBody = 0.3 }
        #expect(options.problems().contains { $0.contains("must not exceed 1") })
    }
}
