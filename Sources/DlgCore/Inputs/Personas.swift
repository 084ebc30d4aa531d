import Foundation
import Yams

/// A persona from personas.yaml: `{id, name, traits[], style}`.
public struct Persona: Sendable, Equatable {
    public var id: String
    public var name: String
    public var traits: [String]
    public var style: String
    /// Upstream's prompt string: `name | trait1, trait2 | style`.
    public var promptText: String { "\(name) | \(traits.joined(separator: ", ")) | \(style)" }
}

public struct PersonaPool: Sendable {
    public var users: [Persona]
    public var assistants: [Persona]

    public static let builtIn = PersonaPool(
        users: [Persona(id: "curious_professional", name: "Curious professional",
                        traits: ["practical", "detail-oriented"], style: "asks precise, practical questions")],
        assistants: [Persona(id: "helpful_tutor", name: "Helpful tutor",
                             traits: ["patient", "clear"], style: "explains step by step with examples")])

    /// Loads the personas file; a missing or unreadable file falls back to the built-in pair, as upstream.
    public static func load(settings: Settings) -> (PersonaPool, String?) {
        guard settings.personasEnabled else { return (builtIn, nil) }
        let path = settings.tree.resolvePath(settings.personasPath)
        // Bounded (YAMLBounds.inputs): a file whose aliases would expand without end is not expanded.
        guard let text = try? YAMLBounds.inputs.readText(path),
              let root = try? YAMLBounds.inputs.compose(text, file: path)?.any as? [String: Any],
              let personas = root["personas"] as? [String: Any]
        else {
            return (builtIn, "personas file \(path) not found or unreadable; using the built-in personas")
        }
        func parse(_ list: Any?) -> [Persona] {
            (list as? [[String: Any]] ?? []).enumerated().map { i, p in
                Persona(id: p["id"].map { "\($0)" } ?? "persona_\(i)",
                        name: p["name"].map { "\($0)" } ?? "Persona \(i)",
                        traits: (p["traits"] as? [Any] ?? []).map { "\($0)" },
                        style: p["style"].map { "\($0)" } ?? "")
            }
        }
        var pool = PersonaPool(users: parse(personas["user"]), assistants: parse(personas["assistant"]))
        if pool.users.isEmpty { pool.users = builtIn.users }
        if pool.assistants.isEmpty { pool.assistants = builtIn.assistants }
        return (pool, nil)
    }

    /// Uniform cycle: slot k takes element k mod n of a shuffle of the pool that is redrawn every n slots.
    /// Stateless, so a resumed run assigns the same personas.
    public static func cyclePick<T>(_ pool: [T], slot: Int, seed: String) -> T {
        let n = pool.count
        let epoch = slot / n
        var rng = SeededRandom("persona-\(seed)-\(epoch)")
        let order = Array(0..<n).shuffled(using: &rng)
        return pool[order[slot % n]]
    }
}
