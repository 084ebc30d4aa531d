import Foundation
import Yams

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
        guard let text = try? YAMLBounds.inputs.readText(path),
              let root = try? YAMLBounds.inputs.compose(text, file: path)?.any as? [String: Any] else {
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
