// The mock OpenAI-compatible HTTP server: SwiftNIO, HTTP/1.1 keep-alive, no per-request logging.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why a `MockServer` could not start.
public enum MockServerError: Error, CustomStringConvertible {
    /// The options are inconsistent; each string names the offending property.
    case invalidOptions([String])
    /// `start()` was called on a server that is running or stopped.
    case alreadyStarted

    public var description: String {
        switch self {
        case .invalidOptions(let problems): return "invalid mock server options: " + problems.joined(separator: "; ")
        case .alreadyStarted: return "the mock server was already started"
        }
    }
}

/// A mock OpenAI-compatible server (chat completions, embeddings, models, stats).
///
/// ```swift
/// let server = MockServer(options: MockOptions())
/// let port = try await server.start()
/// // ... talk to http://127.0.0.1:\(port)/v1 ...
/// await server.stop()
/// ```
public final class MockServer: @unchecked Sendable {
    /// The options the server was created with.
    public let options: MockOptions
    private let engine: MockEngine
    private let lock = NSLock()
    private var group: MultiThreadedEventLoopGroup?
    private var channel: Channel?
    private var started = false
    private var boundPort: Int?

    /// A server that will answer according to `options`; nothing listens until `start()`.
    public init(options: MockOptions = MockOptions()) {
        self.options = options
        engine = MockEngine(options: options)
    }

    /// Binds and starts serving; returns the bound TCP port (useful with port 0).
    public func start() async throws -> Int {
        let problems = options.problems()
        guard problems.isEmpty else { throw MockServerError.invalidOptions(problems) }
        try lock.withLock {
            guard !started else { throw MockServerError.alreadyStarted }
            started = true
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        let engine = self.engine
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The mock's reply headers are fixed names and numbers: validating them was 5% of its CPU.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true, withOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(MockHTTPHandler(engine: engine))
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.bind(host: options.host, port: options.port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        let port = channel.localAddress?.port ?? options.port
        lock.withLock {
            self.group = group
            self.channel = channel
            boundPort = port
        }
        return port
    }

    /// Stops listening, drops every open connection (including held ones) and frees the threads.
    public func stop() async {
        let (group, channel) = lock.withLock { () -> (MultiThreadedEventLoopGroup?, Channel?) in
            defer { self.group = nil; self.channel = nil }
            return (self.group, self.channel)
        }
        if let channel { try? await channel.close() }
        if let group { try? await group.shutdownGracefully() }
    }

    /// The bound port while running.
    public var port: Int? { lock.withLock { boundPort } }

    /// The OpenAI base URL, e.g. `http://127.0.0.1:8080/v1`, while running.
    public var baseURL: String? {
        port.map { "http://\(options.host):\($0)/v1" }
    }

    /// A snapshot of the request counters (the same numbers `GET /stats` serves).
    public var stats: MockStats { engine.stats }

    /// Zeroes the request counters.
    public func resetStats() { engine.resetStats() }
}
