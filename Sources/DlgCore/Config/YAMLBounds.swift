import CYaml
import Foundation
import Yams

/// What a YAML file may cost before it is composed: its size, its nesting, and the number of values it
/// stands for once every alias is expanded. Yams shares an aliased node rather than copying it, but
/// everything after it (our conversion to JSON, Yams's construction, the duplicate-key check that
/// hashes a key's whole subtree) walks the expansion: nine levels of lists of nine aliases, 448 bytes,
/// once grew to 278 MB. So the events are counted first, with libyaml's parser (the one Yams embeds;
/// SwiftPM makes it importable as Yams's dependency), the size of each anchor kept, and a file over a
/// budget is refused before Yams sees it. Values and text are both counted: a long scalar aliased a few
/// thousand times is as costly as many values (each copy's tag is resolved and its text scanned). The
/// count costs one pass over the events, whatever the aliases would expand to.
public struct YAMLBounds: Sendable {
    /// The largest file read, in bytes, and the most text (scalars' bytes) after alias expansion.
    public var maxBytes: Int
    /// The most values (scalars, lists, mappings, keys included) after alias expansion.
    public var maxNodes: Int
    /// The deepest nesting of lists and mappings (Yams composes recursively).
    public var maxDepth: Int

    /// A config file: a few hundred values in practice.
    public static let config = YAMLBounds(maxBytes: 4 << 20, maxNodes: 100_000, maxDepth: 64)
    /// Personas and seed topics: lists a user may make long.
    public static let inputs = YAMLBounds(maxBytes: 64 << 20, maxNodes: 2_000_000, maxDepth: 64)

    /// Why a document is refused, for messages and tests.
    public enum Excess: Equatable, Sendable {
        case bytes(Int)
        case nodes
        case text
        case depth
    }

    /// What is wrong, after a file's name.
    public func describe(_ excess: Excess) -> String {
        switch excess {
        case .bytes(let n): "is \(n) bytes, more than the \(maxBytes >> 20) MiB a YAML input may be"
        case .nodes: "stands for more than \(maxNodes) values once its aliases are expanded (aliases of aliases?); refused before expanding it"
        case .text: "stands for more than \(maxBytes >> 20) MiB of text once its aliases are expanded; refused before expanding it"
        case .depth: "nests lists and mappings more than \(maxDepth) deep"
        }
    }

    /// Reads `path` if it is no larger than `maxBytes`.
    public func readText(_ path: String) throws(DlgError) -> String {
        var st = stat()
        if stat(path, &st) == 0, Int(st.st_size) > maxBytes {
            throw DlgError.config("\(path): \(describe(.bytes(Int(st.st_size))))")
        }
        return try Files.readText(path)
    }

    /// Composes `text` (from `file`) once `check` has found it within the bounds.
    public func compose(_ text: String, file: String) throws -> Node? {
        if let excess = try check(text) { throw DlgError.config("\(file): \(describe(excess))") }
        return try Yams.compose(yaml: text)
    }

    /// The first bound `text` exceeds, or nil. Counting stops at the first excess, so the work is at
    /// most one pass over the events however large the expansion.
    public func check(_ text: String) throws -> Excess? {
        if text.utf8.count > maxBytes { return .bytes(text.utf8.count) }
        return try Self.scan(text, limit: maxNodes, maxText: maxBytes, maxDepth: maxDepth)
    }

    /// One pass over libyaml's events: each scalar, list and mapping counts one value (and a scalar its
    /// bytes of text), an alias counts what its anchor named (kept when that node ended).
    static func scan(_ text: String, limit: Int, maxText: Int = .max, maxDepth: Int) throws -> Excess? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw DlgError(.software, "libyaml: cannot start a parser") }
        defer { yaml_parser_delete(&parser) }
        var input = Array(text.utf8)
        return try input.withUnsafeMutableBufferPointer { (buffer) throws -> Excess? in
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var sizes: [String: (values: Int, text: Int)] = [:]
            var open: [(anchor: String?, values: Int, text: Int)] = []
            var count = 0, bytes = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    // Yams reports the syntax error with its line when it composes.
                    return nil
                }
                defer { yaml_event_delete(&event) }
                func name(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_SCALAR_EVENT:
                    count += 1
                    bytes += event.data.scalar.length
                    if let a = name(event.data.scalar.anchor) { sizes[a] = (1, event.data.scalar.length) }
                case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                    count += 1
                    let anchor = event.type == YAML_SEQUENCE_START_EVENT
                        ? name(event.data.sequence_start.anchor) : name(event.data.mapping_start.anchor)
                    open.append((anchor, count - 1, bytes))
                    if open.count > maxDepth { return .depth }
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    if let top = open.popLast(), let a = top.anchor { sizes[a] = (count - top.values, bytes - top.text) }
                case YAML_ALIAS_EVENT:
                    let size = name(event.data.alias.anchor).flatMap { sizes[$0] } ?? (1, 0)
                    count += size.values
                    bytes += size.text
                default:
                    break
                }
                if count > limit { return .nodes }
                if bytes > maxText { return .text }
            }
        }
    }
}
