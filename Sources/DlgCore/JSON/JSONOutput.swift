/// Where `JSON.write(to:)` puts its text: a byte array (the whole text in memory), or `JSONChunks`
/// (the text handed on in pieces of bounded size, so a value holding a 100 MB string is written
/// without a 100 MB buffer, let alone one per copy of the string in the value).
public protocol JSONOutput {
    mutating func append(_ byte: UInt8)
    mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>)
}

extension Array: JSONOutput where Element == UInt8 {}

extension JSONOutput {
    @inline(__always) mutating func appendASCII(_ text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always) mutating func appendText(_ text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }
}

/// JSON text handed on in pieces: bytes gather in a buffer that goes to `emit` each time it holds
/// `limit` bytes, and once more at `finish()`. A long run of bytes (a big string's text) is cut
/// into such pieces, so the memory it takes is `limit`, whatever the size of the value written.
/// `emit` gets the buffer itself (no copy); the first error it throws stops the writing and is
/// thrown again by `finish()`.
public struct JSONChunks: JSONOutput {
    public typealias Emit = ([UInt8]) throws(DlgError) -> Void
    private var buffer: [UInt8] = []
    private let limit: Int
    private let emit: Emit
    private var failure: DlgError?

    /// 256 KiB pieces by default: what `AtomicFile` buffers before a write(2).
    public init(limit: Int = 1 << 18, emit: @escaping Emit) {
        self.limit = max(1, limit)
        self.emit = emit
    }

    @inline(__always) public mutating func append(_ byte: UInt8) {
        buffer.append(byte)
        if buffer.count >= limit { flush() }
    }

    public mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        if buffer.count + bytes.count < limit {
            buffer.append(contentsOf: bytes)
            return
        }
        var rest = bytes
        while !rest.isEmpty {
            let n = min(rest.count, limit - buffer.count)
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: rest[..<(rest.startIndex + n)]))
            rest = UnsafeBufferPointer(rebasing: rest[(rest.startIndex + n)...])
            if buffer.count >= limit { flush() }
        }
    }

    /// Hands on what is buffered.
    public mutating func flush() {
        guard !buffer.isEmpty else { return }
        if failure == nil {
            do throws(DlgError) { try emit(buffer) } catch { failure = error }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Hands on the rest; throws the first error `emit` threw, if any.
    public mutating func finish() throws(DlgError) {
        flush()
        if let failure { throw failure }
    }
}
