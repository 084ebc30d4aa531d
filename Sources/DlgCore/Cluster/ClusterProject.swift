import Foundation

/// What a shard needs of the user's project, laid out in one folder for the driver to ship with the job
/// (scripts/cluster_driver.py packs it): the resolved config, the knowledge-base index, the personas and
/// seed files. Worker hosts see none of the driver's files, so every path the config names is copied in
/// and rewritten relative to the folder.
///
/// The config shipped is the tree this process resolved (upstream's defaults, the user's file, `.env`,
/// the environment and `${VAR}` expansion), written as JSON (which YAML reads), so a shard reads exactly
/// the settings the driver read. Secrets never go into it: every non-empty string under a key that
/// names one (`api_key`, `token`, `password`, `secret`, `dsn`) becomes `${DLG_SECRET_<n>}` and its value
/// goes to the job's environment (`secrets`), which is how it reaches the shards.
public struct ClusterProject: Sendable {
    /// The folder laid out for the job.
    public let dir: String
    /// `DLG_SECRET_<n>` → value, for the job's environment only.
    public let secrets: [String: String]
    /// Environment variables whose overrides the shipped config already holds and that must not reach the
    /// shards (they name the driver's paths).
    public static let pathOverrides: Set<String> = ["SEED_TOPICS_PATH", "KB_PERSIST_DIR", "OUTPUT_DIR", "PERSONAS_PATH"]

    static let secretKeys = Redact.secretKeys

    /// Lays out `dir` (emptied first) from `settings`. The knowledge index must be built already.
    public static func prepare(settings: Settings, in dir: String) throws(DlgError) -> ClusterProject {
        try? FileManager.default.removeItem(atPath: dir)
        try Files.makeDirectory(dir)
        var root = settings.tree.root
        // The files the config names, copied under fixed names.
        let index = settings.indexDir
        if Files.isDirectory(index) {
            try copy(index, to: (dir as NSString).appendingPathComponent("knowledge_index"), skipping: [".lock"])
        }
        root["retrieval"]?["persist_dir"] = .string("knowledge_index")
        root["retrieval"]?["rebuild_index"] = .bool(false)
        if let personas = root["personas"]?["path"]?.stringValue, !personas.isEmpty {
            let source = settings.tree.resolvePath(personas)
            if Files.exists(source) { try copy(source, to: (dir as NSString).appendingPathComponent("personas.yaml")) }
            root["personas"]?["path"] = .string("personas.yaml")
        }
        if let seeds = root["run"]?["seed_topics_path"]?.stringValue, !seeds.isEmpty {
            let source = settings.tree.resolvePath(seeds)
            let name = "seed_topics." + ((seeds as NSString).pathExtension.isEmpty ? "yaml" : (seeds as NSString).pathExtension)
            if Files.exists(source) { try copy(source, to: (dir as NSString).appendingPathComponent(name)) }
            root["run"]?["seed_topics_path"] = .string(name)
        }
        // A shard writes its logs and outputs in its own folder on the worker; the dataset is built from
        // the store on the driver's host.
        root["saving"]?["output_dir"] = .string("outputs")
        // A shard is one process of a distributed run, not a run that should start one; and keys that
        // have no effect here would only fill every shard's log with the same warning.
        root["run"]?["distributed"] = .object(["enabled": .bool(false)])
        for path in ConfigLayoutV2.noEffect { remove(path.split(separator: ".").map(String.init), from: &root) }
        var secrets: [String: String] = [:]
        root = hideSecrets(root, key: "", secrets: &secrets)
        var text: [UInt8] = []
        root.write(into: &text)
        text.append(0x0A)
        try Files.writeAtomically(text, to: (dir as NSString).appendingPathComponent("config.yaml"))
        return ClusterProject(dir: dir, secrets: secrets)
    }

    static func remove(_ path: [String], from value: inout JSON) {
        guard let first = path.first, case .object(var o) = value else { return }
        if path.count == 1 {
            o[first] = nil
        } else if var child = o[first] {
            remove(Array(path.dropFirst()), from: &child)
            o[first] = child
        }
        value = .object(o)
    }

    /// `value` with every secret-looking string replaced by a placeholder (same value, same name).
    static func hideSecrets(_ value: JSON, key: String, secrets: inout [String: String]) -> JSON {
        switch value {
        case .object(let members):
            var out = JSONObject()
            for (k, v) in members.pairs { out[k] = hideSecrets(v, key: k, secrets: &secrets) }
            return .object(out)
        case .array(let items):
            return .array(items.map { hideSecrets($0, key: key, secrets: &secrets) })
        case .string(let s) where !s.isEmpty && isSecretKey(key):
            if let known = secrets.first(where: { $0.value == s })?.key { return .string("${\(known)}") }
            let name = "DLG_SECRET_\(secrets.count)"
            secrets[name] = s
            return .string("${\(name)}")
        default:
            return value
        }
    }

    static func isSecretKey(_ key: String) -> Bool { Redact.isSecretKey(key) }

    static func copy(_ source: String, to target: String, skipping: Set<String> = []) throws(DlgError) {
        let fm = FileManager.default
        do {
            if Files.isDirectory(source) {
                try fm.createDirectory(atPath: target, withIntermediateDirectories: true)
                for name in try fm.contentsOfDirectory(atPath: source) where !skipping.contains(name) {
                    try copy((source as NSString).appendingPathComponent(name), to: (target as NSString).appendingPathComponent(name))
                }
            } else {
                try fm.copyItem(atPath: source, toPath: target)
            }
        } catch let e as DlgError {
            throw e
        } catch {
            throw DlgError.io("\(source): cannot copy it for the cluster's workers: \(error.localizedDescription)")
        }
    }
}
