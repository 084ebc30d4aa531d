import Foundation

/// Reads typed values out of a `ConfigTree`, failing with a message that names the key path,
/// the value and what is allowed (exit 78). Upstream silently ignores bad values; we do not.
struct ConfigReader {
    let tree: ConfigTree

    func fail(_ path: String, _ value: JSON?, _ allowed: String) -> DlgError {
        let shown = value.map { v -> String in
            if case .string(let s) = v { return "\"\(s)\"" }
            return v.serialized()
        } ?? "nothing"
        return DlgError.config("\(tree.location(of: path)): \(path): \(shown) is not allowed; expected \(allowed)")
    }

    func int(_ path: String, min: Int? = nil, max: Int? = nil) throws(DlgError) -> Int {
        let v = tree.value(at: path)
        var result: Int?
        switch v {
        case .int(let i)?: result = i
        case .double(let d)?: result = Int(exactly: d)
        case .string(let s)?: result = Int(s.trimmingCharacters(in: .whitespaces))
        default: result = nil
        }
        let range = "an integer" + (min.map { " >= \($0)" } ?? "") + (max.map { " <= \($0)" } ?? "")
        guard let r = result else { throw fail(path, v, range) }
        if let min, r < min { throw fail(path, v, range) }
        if let max, r > max { throw fail(path, v, range) }
        return r
    }

    func double(_ path: String, min: Double? = nil, max: Double? = nil) throws(DlgError) -> Double {
        let v = tree.value(at: path)
        var result: Double?
        switch v {
        case .int(let i)?: result = Double(i)
        case .double(let d)?: result = d
        case .string(let s)?: result = Double(s.trimmingCharacters(in: .whitespaces))
        default: result = nil
        }
        let range = "a number" + (min.map { " >= \($0)" } ?? "") + (max.map { " <= \($0)" } ?? "")
        guard let r = result, r.isFinite else { throw fail(path, v, range) }
        if let min, r < min { throw fail(path, v, range) }
        if let max, r > max { throw fail(path, v, range) }
        return r
    }

    func optionalDouble(_ path: String) throws(DlgError) -> Double? {
        if tree.value(at: path) == nil || tree.value(at: path)!.isNull { return nil }
        return try double(path)
    }

    func optionalInt(_ path: String, min: Int? = nil) throws(DlgError) -> Int? {
        if tree.value(at: path) == nil || tree.value(at: path)!.isNull { return nil }
        return try int(path, min: min)
    }

    func bool(_ path: String) throws(DlgError) -> Bool {
        let v = tree.value(at: path)
        switch v {
        case .bool(let b)?: return b
        case .int(let i)?: return i != 0
        case .string(let s)?:
            switch s.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0", "": return false
            default: break
            }
        default: break
        }
        throw fail(path, v, "true or false")
    }

    func string(_ path: String) throws(DlgError) -> String {
        let v = tree.value(at: path)
        switch v {
        case .string(let s)?: return s
        case nil, .null?: return ""
        case .int(let i)?: return String(i)
        case .double(let d)?: return String(d)
        default: throw fail(path, v, "a string")
        }
    }

    func choice(_ path: String, _ allowed: [String], aliases: [String: String] = [:]) throws(DlgError) -> String {
        let raw = try string(path).trimmingCharacters(in: .whitespaces).lowercased()
        let value = aliases[raw] ?? raw
        guard allowed.contains(value) else {
            throw fail(path, tree.value(at: path), "one of " + allowed.joined(separator: ", "))
        }
        return value
    }

    func stringList(_ path: String) throws(DlgError) -> [String] {
        let v = tree.value(at: path)
        switch v {
        case .string(let s)?:
            return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case .array(let items)?:
            var out: [String] = []
            for item in items {
                guard case .string(let s) = item else { throw fail(path, v, "a list of strings") }
                out.append(s)
            }
            return out
        case nil, .null?: return []
        default: throw fail(path, v, "a list of strings")
        }
    }
}
