// Inputs that attack the parsers, shared by the tests and dlg-fuzz.

/// Hostile YAML.
public enum HostileYAML {
    /// The billion laughs: `a: &a ["lol" x9]`, then each level a list of nine aliases of the one before
    /// (9^9 values once expanded) in a few hundred bytes; each line prefixed with `indent` (to sit under
    /// a section); with `keys`, a last level whose mapping key is the whole expansion (Yams hashes a key
    /// whole).
    public static func aliasBomb(keys: Bool = false, indent: String = "") -> String {
        var lines = [indent + "a: &a [" + Array(repeating: "\"lol\"", count: 9).joined(separator: ",") + "]"]
        let names = Array("abcdefghi").map(String.init)
        for (previous, name) in zip(names, names.dropFirst()) {
            lines.append(indent + "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]")
        }
        if keys { lines.append(indent + "j: {? *i : 1}") }
        return lines.joined(separator: "\n") + "\n"
    }
}
