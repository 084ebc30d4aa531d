/// The JSON value used across dlgforge: objects keep their key order, so a record
/// written back keeps the shape it was read in.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    /// Member of an object, or nil.
    public subscript(key: String) -> JSON? {
        get { if case .object(let o) = self { return o[key] } else { return nil } }
        set {
            guard case .object(var o) = self else { return }
            o[key] = newValue
            self = .object(o)
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var arrayValue: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var objectValue: JSONObject? { if case .object(let o) = self { return o } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// A short name of the value's type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    /// Whether `other` is the same value to the last detail `==` overlooks: members in the same order,
    /// an integer not equal to a real, a real's bits (-0.0 is not 0.0), strings byte for byte. Values
    /// that share their storage (a copy of a `static let` schema) are known identical at once.
    public func isIdentical(to other: JSON) -> Bool {
        switch (self, other) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.array(let x), .array(let y)):
            if x.withUnsafeBufferPointer({ a in y.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress && a.count == b.count } }) {
                return true
            }
            return x.count == y.count && zip(x, y).allSatisfy { $0.isIdentical(to: $1) }
        case (.object(let x), .object(let y)): return x.isIdentical(to: y)
        default: return false
        }
    }

    /// Builds an object from ordered pairs.
    public static func obj(_ pairs: KeyValuePairs<String, JSON>) -> JSON {
        var o = JSONObject()
        for (k, v) in pairs { o[k] = v }
        return .object(o)
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}

/// An insertion-ordered JSON object.
public struct JSONObject: Sendable, Equatable {
    /// Members in insertion order. A record has a few dozen keys at most, so a linear search beats
    /// hashing every key on every parse and lookup (measured: hashing was a tenth of a stage's CPU).
    private var members: [(key: String, value: JSON)] = []

    public init() {}
    public init(_ pairs: [(String, JSON)]) { for (k, v) in pairs { self[k] = v } }

    private func index(of key: String) -> Int? {
        for i in members.indices where members[i].key == key { return i }
        return nil
    }

    public subscript(key: String) -> JSON? {
        get { index(of: key).map { members[$0].value } }
        set {
            if let i = index(of: key) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    /// Appends a member the caller knows is new (a parser's unique keys).
    mutating func appendNew(_ key: String, _ value: JSON) { members.append((key, value)) }
    mutating func reserveCapacity(_ n: Int) { members.reserveCapacity(n) }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    public var keys: [String] { members.map { $0.key } }
    /// Members in insertion order.
    public var pairs: [(key: String, value: JSON)] { members }

    /// The same members in the same order, each value identical (`JSON.isIdentical`).
    public func isIdentical(to other: JSONObject) -> Bool {
        let shared = members.withUnsafeBufferPointer { a in
            other.members.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress && a.count == b.count }
        }
        if shared { return true }
        return members.count == other.members.count && zip(members, other.members).allSatisfy {
            $0.key.utf8.elementsEqual($1.key.utf8) && $0.value.isIdentical(to: $1.value)
        }
    }

    /// Same members with the same values, in any order.
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.members.count == b.members.count else { return false }
        return a.members.allSatisfy { m in b[m.key] == m.value }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSON)...) { for (k, v) in elements { self[k] = v } }
}

extension JSON {
    /// Convenience conversions for building records.
    public init(_ s: String) { self = .string(s) }
    public init(_ i: Int) { self = .int(i) }
    public init(_ d: Double) { self = .double(d) }
    public init(_ b: Bool) { self = .bool(b) }
    public init(_ a: [String]) { self = .array(a.map { .string($0) }) }
    public init(_ s: String?) { self = s.map { .string($0) } ?? .null }
}
