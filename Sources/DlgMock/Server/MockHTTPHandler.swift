// One HTTP/1.1 connection: collect a request, ask the engine, write (or withhold) the reply.
// Pipelined requests are serialised by NIO's HTTPServerPipelineHandler, so a held
// (timeout fault) or delayed reply also holds back later requests on the same connection.

import NIOCore
import NIOHTTP1

final class MockHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Request bodies above this size get 413 and the connection is closed.
    static let maxBodyBytes = 64 << 20

    private let engine: MockEngine
    private var head: HTTPRequestHead?
    /// When the request's head was read: the reply's latency counts from here, so the mock's own work
    /// (and its queue in a burst) is part of the latency instead of added to it.
    private var arrival = NIODeadline.now()
    private var body: ByteBuffer?
    private var tooLarge = false
    private var active = true

    init(engine: MockEngine) {
        self.engine = engine
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            arrival = .now()
            body = nil
            tooLarge = false
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
            }
        case .body(var chunk):
            guard !tooLarge else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > MockHTTPHandler.maxBodyBytes {
                tooLarge = true
                body = nil
            } else if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive && !tooLarge
            if tooLarge {
                let response = engine.errorResponse(413, "request body exceeds \(MockHTTPHandler.maxBodyBytes) bytes", type: "invalid_request_error")
                write(response, version: head.version, keepAlive: false, context: context)
                return
            }
            let method = head.method.rawValue
            let body = self.body
            self.body = nil
            let arrival = self.arrival
            // Answered after the reads of this event-loop turn: in a burst every request is stamped as it
            // arrives rather than after the replies of those read before it are built.
            context.eventLoop.assumeIsolated().execute {
                let outcome: MockOutcome
                if let body {
                    outcome = body.withUnsafeReadableBytes { self.engine.handle(method: method, path: head.uri[...], body: $0, authorization: head.headers.first(name: "authorization")) }
                } else {
                    outcome = self.engine.handle(method: method, path: head.uri[...], body: UnsafeRawBufferPointer(start: nil, count: 0), authorization: head.headers.first(name: "authorization"))
                }
                switch outcome {
                case .respond(let response, let delay):
                    if delay > 0 {
                        self.later(context, at: arrival + .nanoseconds(delay)) {
                            self.write(response, version: head.version, keepAlive: keepAlive, context: context)
                        }
                    } else {
                        self.write(response, version: head.version, keepAlive: keepAlive, context: context)
                    }
                case .partial(let response, let delay, let reset):
                    if delay > 0 {
                        self.later(context, at: arrival + .nanoseconds(delay)) {
                            self.writePart(response, version: head.version, reset: reset, context: context)
                        }
                    } else {
                        self.writePart(response, version: head.version, reset: reset, context: context)
                    }
                case .hang:
                    break
                case .drop(let delay):
                    if delay > 0 {
                        self.later(context, at: arrival + .nanoseconds(delay)) {
                            if self.active { context.close(promise: nil) }
                        }
                    } else {
                        context.close(promise: nil)
                    }
                }
            }
        }
    }

    /// Runs `body` on the channel's event loop at `deadline`: a scheduled callback, which costs no promise
    /// and future per reply as `scheduleTask` did. Nothing runs if the loop is shutting down.
    private func later(_ context: ChannelHandlerContext, at deadline: NIODeadline, _ body: @escaping () -> Void) {
        _ = try? context.eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: DeferredReply(body: body))
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        active = false
    }

    /// The head (with the full `Content-Length`) and the first half of the body, then a reset (SO_LINGER 0
    /// makes close(2) send RST) or an orderly close: the client sees a reply cut short mid-body.
    private func writePart(_ response: MockResponse, version: HTTPVersion, reset: Bool, context: ChannelHandlerContext) {
        guard active else { return }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(response.body.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count / 2)
        buffer.writeBytes(response.body[..<(response.body.count / 2)])
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer)))).assumeIsolated().whenComplete { _ in
            guard reset, let socket = context.channel as? SocketOptionProvider else {
                context.close(promise: nil)
                return
            }
            socket.setSoLinger(NIOLinger(l_onoff: 1, l_linger: 0)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    private func write(_ response: MockResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        if response.endsChat { engine.chatEnded() }
        guard active else { return }
        if response.streamedBytes > 0 { return writeStreamed(response.streamedBytes, version: version, context: context) }
        var headers = HTTPHeaders()
        headers.reserveCapacity(4 + response.headers.count)
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(response.body.count))
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }
}

extension MockHTTPHandler {
    /// A 200 of `size` bytes, `{"pad":"xxx..."}`, written as pieces of one shared 1 MiB buffer (NIO's
    /// buffers are copy-on-write): the mock holds a few MiB whatever the size. The connection closes after.
    func writeStreamed(_ size: Int, version: HTTPVersion, context: ChannelHandlerContext) {
        let head = Array(#"{"pad":""#.utf8), tail = Array(#""}"#.utf8)
        let size = max(size, head.count + tail.count)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(size))
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
        var first = context.channel.allocator.buffer(capacity: head.count)
        first.writeBytes(head)
        context.write(wrapOutboundOut(.body(.byteBuffer(first))), promise: nil)
        let pieceSize = 1 << 20
        var piece = context.channel.allocator.buffer(capacity: pieceSize)
        piece.writeRepeatingByte(UInt8(ascii: "x"), count: pieceSize)
        var left = size - head.count - tail.count
        // One piece at a time, the next once the last is written: a client that stops reading holds the
        // mock at one piece, and one that hangs up ends it.
        func next() {
            guard left > 0 else {
                var last = context.channel.allocator.buffer(capacity: tail.count)
                last.writeBytes(tail)
                context.write(wrapOutboundOut(.body(.byteBuffer(last))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
                return
            }
            let n = min(left, pieceSize)
            left -= n
            let slice = piece.getSlice(at: piece.readerIndex, length: n)!
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(slice)))).assumeIsolated().whenComplete { result in
                if case .success = result { next() } else { context.close(promise: nil) }
            }
        }
        next()
    }
}

/// A reply (or a close) held back until its latency has passed.
private struct DeferredReply: NIOScheduledCallbackHandler {
    let body: () -> Void

    func handleScheduledCallback(eventLoop: some EventLoop) {
        body()
    }
}
