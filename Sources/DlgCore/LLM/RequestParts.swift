import Foundation

/// The parts of a chat request that an agent sends alike with every call (its JSON schema, its tool
/// definitions), serialized once per process: each went into the cache key and into the body of every
/// attempt, about a twelfth of dlg-respond's CPU at 256 requests in flight. A value is served from the
/// memo only when it is identical to the one serialized (`JSON.isIdentical`: same members in the same
/// order), so a caller that changes its schema gets the new bytes.
final class RequestParts: @unchecked Sendable {
    static let shared = RequestParts()
    /// Enough for every agent's schema and tool list; values past it are serialized each time.
    static let capacity = 32

    private let lock = NSLock()
    private var entries: [(value: JSON, bytes: [UInt8])] = []

    /// The compact bytes of `value`.
    func bytes(_ value: JSON) -> [UInt8] {
        if let hit = lock.withLock({ entries.first { $0.value.isIdentical(to: value) }?.bytes }) { return hit }
        let bytes = value.compactBytes()
        lock.withLock { if entries.count < Self.capacity { entries.append((value, bytes)) } }
        return bytes
    }

    /// `{"name":<name>,"schema":<schema>}`, the response format as the cache key has it.
    func keyFormat(name: String, schema: JSON) -> [UInt8] {
        var out = Array(#"{"name":"#.utf8)
        JSON.writeString(name, into: &out)
        out.append(contentsOf: #","schema":"#.utf8)
        out.append(contentsOf: bytes(schema))
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `{"type":"json_schema","json_schema":{"name":<name>,"strict":false,"schema":<schema>}}`, as sent.
    func jsonSchemaFormat(name: String, schema: JSON) -> [UInt8] {
        var out = Array(#"{"type":"json_schema","json_schema":{"name":"#.utf8)
        JSON.writeString(name, into: &out)
        out.append(contentsOf: #","strict":false,"schema":"#.utf8)
        out.append(contentsOf: bytes(schema))
        out.append(contentsOf: "}}".utf8)
        return out
    }
}
