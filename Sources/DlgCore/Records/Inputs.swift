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
        guard let text = try? Files.readText(path), let root = try? Yams.load(yaml: text) as? [String: Any],
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

/// Seed topics: `{version, defaults{by_target_language, final_fallback}, aliases, variants{variant:{topic:[questions]}}}`.
public struct SeedTopics: Sendable {
    public var topics: [(topic: String, questions: [String])]

    /// The seed question of a slot: topics taken in turn (the least used first), each question once;
    /// nil once every question has had its slot.
    public func question(forSlot slot: Int) -> (topic: String, question: String)? {
        var round = 0
        var index = 0
        while true {
            var any = false
            for t in topics where round < t.questions.count {
                any = true
                if index == slot { return (t.topic, t.questions[round]) }
                index += 1
            }
            if !any { return nil }
            round += 1
        }
    }

    public static func load(settings: Settings, language: String) -> SeedTopics? {
        guard settings.run.seedTopicsEnabled else { return nil }
        var path = settings.tree.resolvePath(settings.run.seedTopicsPath)
        if Files.isDirectory(path) { path = (path as NSString).appendingPathComponent("topics.yaml") }
        guard let text = try? Files.readText(path), let root = try? Yams.load(yaml: text) as? [String: Any] else {
            return nil
        }
        let hardDefaults = ["ar": "msa", "en": "english", "fr": "france"]
        let variants: [String: Any]
        if let v = root["variants"] as? [String: Any] {
            variants = v
        } else {
            // Legacy {topic: {variant: [questions]}} or {topic: [questions]}.
            var v: [String: [String: Any]] = [:]
            for (topic, value) in root {
                if let list = value as? [Any] { v["english", default: [:]][topic] = list }
                else if let byVariant = value as? [String: Any] {
                    for (variant, list) in byVariant { v[variant, default: [:]][topic] = list }
                }
            }
            variants = v
        }
        let aliases = root["aliases"] as? [String: String] ?? [:]
        let defaults = root["defaults"] as? [String: Any] ?? [:]
        let byLanguage = defaults["by_target_language"] as? [String: String] ?? [:]
        var candidates: [String] = []
        let explicit = settings.run.seedTopicsVariant
        if !explicit.isEmpty { candidates += [explicit, aliases[explicit] ?? explicit] }
        candidates += [byLanguage[language], aliases[language], hardDefaults[language],
                       defaults["final_fallback"] as? String, "english"].compactMap { $0 }
        for name in candidates {
            if let topics = variants[name] as? [String: Any] {
                let list = topics.keys.sorted().map { key in
                    (key, (topics[key] as? [Any] ?? []).map { "\($0)" }.filter { !$0.isEmpty })
                }.filter { !$0.1.isEmpty }
                if !list.isEmpty { return SeedTopics(topics: list) }
            }
        }
        return nil
    }
}
