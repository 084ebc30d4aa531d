import Foundation
import Yams

/// Upstream's `seeds-migrate`: a legacy seed-topics file (`{topic: {variant: [questions]}}`, or
/// `{topic: [questions]}` for English) rewritten as the versioned YAML that `run.seed_topics_path`
/// reads, with the language defaults and aliases upstream writes. A file that is already structured
/// (`variants` or `topics` at the top) is copied as it is.
public enum SeedMigration {
    public struct Outcome: Sendable {
        public var source: String
        public var destination: String
        public var variants: Int
        public var topics: Int
        public var questions: Int
        /// The source was already in the structured format and was copied unchanged.
        public var passedThrough: Bool
    }

    static let languageDefaults: KeyValuePairs<String, String> = ["ar": "msa", "en": "english", "fr": "france"]
    static let fixedAliases: KeyValuePairs<String, String> = [
        "arabic": "msa", "french": "france", "ar": "msa", "en": "english", "fr": "france",
    ]

    /// Where upstream reads from: `--source-file`, else `run.seed_topics_path` when it is JSON, else
    /// `seed_topics.json` beside the config, else the configured path.
    public static func source(settings: Settings, explicit: String?) -> String {
        if let explicit { return explicit }
        let configured = settings.tree.resolvePath(settings.run.seedTopicsPath)
        if configured.lowercased().hasSuffix(".json") { return configured }
        let beside = settings.tree.resolvePath("seed_topics.json")
        return Files.exists(beside) ? beside : configured
    }

    /// Where upstream writes: `--dest-file`, else the configured path when it is YAML, else
    /// `data/seeds/topics.yaml` beside the config.
    public static func destination(settings: Settings, explicit: String?) -> String {
        if let explicit { return explicit }
        let configured = settings.tree.resolvePath(settings.run.seedTopicsPath)
        let lower = configured.lowercased()
        if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") { return configured }
        return settings.tree.resolvePath("data/seeds/topics.yaml")
    }

    public static func migrate(settings: Settings, sourceFile: String?, destFile: String?,
                               overwrite: Bool) throws(DlgError) -> Outcome {
        let source = Self.source(settings: settings, explicit: sourceFile)
        let destination = Self.destination(settings: settings, explicit: destFile)
        guard Files.exists(source) else { throw DlgError(.noInput, "\(source): no seed topics file to migrate") }
        if Files.exists(destination) && !overwrite {
            throw DlgError(.usage, "\(destination): already exists; pass --overwrite to replace it")
        }
        let text = try YAMLBounds.inputs.readText(source)
        let mapping = try topMapping(text, source: source)
        if mapping["variants"] != nil || mapping["topics"] != nil {
            try Files.writeAtomically(text, to: destination)
            return Outcome(source: source, destination: destination, variants: mapping["variants"]?.mapping?.count ?? 0,
                           topics: 0, questions: 0, passedThrough: true)
        }
        var topics = TopicsByVariant(source: source)
        try topics.add(mapping)
        let yaml: String
        do { yaml = try Yams.serialize(node: topics.document(), allowUnicode: true) } catch {
            throw DlgError(.software, "cannot write the seed topics as YAML: \(error)")
        }
        let dir = (destination as NSString).deletingLastPathComponent
        if !dir.isEmpty { try Files.makeDirectory(dir) }
        try Files.writeAtomically(yaml, to: destination)
        return Outcome(source: source, destination: destination, variants: topics.byVariant.count,
                       topics: Set(topics.byVariant.values.flatMap { $0.map(\.topic) }).count,
                       questions: topics.questionCount, passedThrough: false)
    }

    /// The source's top-level mapping (JSON is YAML).
    static func topMapping(_ text: String, source: String) throws(DlgError) -> Node.Mapping {
        let root: Node?
        do { root = try YAMLBounds.inputs.compose(text, file: source) } catch let e as DlgError {
            throw e
        } catch {
            throw DlgError.data("\(source): not JSON or YAML: \(error)")
        }
        guard let mapping = root?.mapping else {
            throw DlgError.data("\(source): expected a mapping of topics at the top")
        }
        return mapping
    }

    /// A legacy file's questions regrouped by variant, topics in the order they first appear.
    struct TopicsByVariant {
        let source: String
        var byVariant: [String: [(topic: String, questions: [String])]] = [:]
        var questionCount = 0

        /// Adds `{topic: [questions]}` (English) and `{topic: {variant: [questions]}}` entries.
        mutating func add(_ mapping: Node.Mapping) throws(DlgError) {
            for (key, value) in mapping {
                guard let topic = key.string else { throw DlgError.data("\(source): a topic name is not a string") }
                if value.sequence != nil {
                    try add("english", topic, value, at: topic)
                } else if let variants = value.mapping {
                    for (variantKey, list) in variants {
                        guard let variant = variantKey.string else {
                            throw DlgError.data("\(source): \(topic): a variant name is not a string")
                        }
                        try add(variant, topic, list, at: "\(topic).\(variant)")
                    }
                } else {
                    throw DlgError.data("\(source): \(topic): expected a list of questions or {variant: [questions]}")
                }
            }
        }

        mutating func add(_ variant: String, _ topic: String, _ list: Node, at path: String) throws(DlgError) {
            guard let items = list.sequence else {
                throw DlgError.data("\(source): \(path): expected a list of questions")
            }
            var questions: [String] = []
            for item in items {
                guard let q = item.string else { throw DlgError.data("\(source): \(path): a question is not a string") }
                let trimmed = q.trimmingCharacters(in: .whitespacesAndNewlines)
                if !trimmed.isEmpty { questions.append(trimmed) }
            }
            questionCount += questions.count
            if let i = byVariant[variant]?.firstIndex(where: { $0.topic == topic }) {
                byVariant[variant]![i].questions += questions
            } else {
                byVariant[variant, default: []].append((topic, questions))
            }
        }

        /// The versioned document `run.seed_topics_path` reads.
        func document() -> Node {
            let variantNames = byVariant.keys.sorted()
            func map(_ pairs: [(String, Node)]) -> Node { .mapping(Node.Mapping(pairs.map { (Node($0.0), $0.1) })) }
            // Each variant names itself, then the fixed aliases, which win over a variant of the same name
            // (upstream builds the dict in that order).
            var aliases: [(String, Node)] = variantNames.map { ($0, Node($0)) }
            for (alias, variant) in SeedMigration.fixedAliases {
                if let i = aliases.firstIndex(where: { $0.0 == alias }) { aliases[i].1 = Node(variant) }
                else { aliases.append((alias, Node(variant))) }
            }
            return map([
                ("version", Node("1", Tag(.int))),
                ("defaults", map([
                    ("by_target_language", map(SeedMigration.languageDefaults.map { ($0.key, Node($0.value)) })),
                    ("final_fallback", Node("english")),
                ])),
                ("aliases", map(aliases)),
                ("variants", map(variantNames.map { variant in
                    (variant, map(byVariant[variant]!.map { ($0.topic, .sequence(Node.Sequence($0.questions.map { Node($0) }))) }))
                })),
            ])
        }
    }
}
