import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The project a dry run's sample runs in: a private temporary folder holding the user's config as
/// this process resolved it (defaults, file, `.env`, environment, `${VAR}`), written as JSON (which
/// YAML reads) with what makes it a sample: `run.total_samples` the sample's size, the outputs, the
/// logs and a copy of the knowledge index in the folder (the user's files untouched), the file store, no
/// response cache, no batch mode, no Hub upload, the judge online when it is on, no secret (the mock
/// needs none). `knowledge/` is a link to the user's folder, read only; the personas and seed topics
/// are named by their absolute paths. The environment the sample's processes get says the same
/// (`SampleEndpoint`: every endpoint at the mock).
struct DryRunSample {
    let dir: String
    let configPath: String
    let environment: [String: String]
    static let runID = "dry-run"

    /// Lays out a new temporary folder for `dialogues` per language against `mockURL`.
    static func prepare(settings: Settings, dialogues: Int, mockURL: String) throws(DlgError) -> DryRunSample {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("dlg-dry-run.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw DlgError.io("\(NSTemporaryDirectory()): cannot make the dry run's folder") }
        let dir = String(cString: made)
        func inDir(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        do throws(DlgError) {
            if symlink(settings.knowledgeDir, inDir("knowledge")) != 0 {
                throw DlgError.io("\(inDir("knowledge")): cannot link the knowledge folder: \(String(cString: strerror(errno)))")
            }
            if Files.isDirectory(settings.indexDir) { try copyIndex(settings.indexDir, to: inDir("knowledge_index")) }
            let root = sampleTree(settings, dialogues: dialogues, dir: dir)
            var text: [UInt8] = []
            root.write(into: &text)
            text.append(0x0A)
            try Files.writeSecret(String(decoding: text, as: UTF8.self), to: inDir("config.yaml"))
            return DryRunSample(dir: dir, configPath: inDir("config.yaml"),
                                environment: environment(settings.tree.environment, mockURL: mockURL))
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    /// The user's resolved tree, made the sample's.
    static func sampleTree(_ settings: Settings, dialogues: Int, dir: String) -> JSON {
        var root = hideSecrets(settings.tree.root, key: "")
        func set(_ path: String, _ value: JSON) { Self.set(path.split(separator: ".").map(String.init), value, in: &root) }
        let languages = max(1, settings.run.targetLanguages.count)
        set("run.total_samples", .int(dialogues))
        set("run.batch_size", .int(min(settings.run.batchSize, dialogues * languages)))
        set("run.run_id", .string(runID))
        set("run.resume_run_id", .string(""))
        set("run.distributed.enabled", .bool(false))
        set("run.seed_topics_path", .string(settings.tree.resolvePath(settings.run.seedTopicsPath)))
        set("personas.path", .string(settings.tree.resolvePath(settings.personasPath)))
        set("saving.output_dir", .string((dir as NSString).appendingPathComponent("outputs")))
        set("saving.hf_push.enabled", .bool(false))
        set("retrieval.persist_dir", .string((dir as NSString).appendingPathComponent("knowledge_index")))
        set("store.backend", .string("file"))
        set("coverage.dedup_against_runs", .array([]))
        set("llm.cache.enabled", .bool(false))
        set("llm.batch_api.enabled", .bool(false))
        set("tools.web_search_enabled", .bool(false))
        if settings.judge.enabled { set("judge.mode", .string("online")) }
        return root
    }

    /// The environment of the sample: the user's (`.env` included), every variable that overrides a
    /// config key emptied (the tree holds what they said, and an empty variable overrides nothing),
    /// batch mode and the cache off, and the mock's URL.
    static func environment(_ user: [String: String], mockURL: String) -> [String: String] {
        var env = user
        for (variable, _, _) in ConfigDefaults.environmentOverrides { env[variable] = "" }
        env[BatchAPISettings.enableVariable] = ""
        env["DLGFORGE_CACHE"] = "0"
        env[SampleEndpoint.variable] = mockURL
        return env
    }

    static func set(_ path: [String], _ value: JSON, in node: inout JSON) {
        guard let first = path.first else { node = value; return }
        var o = node.objectValue ?? JSONObject()
        var child = o[first] ?? .object(JSONObject())
        set(Array(path.dropFirst()), value, in: &child)
        o[first] = child
        node = .object(o)
    }

    /// `value` with every string under a key that names a secret emptied: the sample's file holds none.
    static func hideSecrets(_ value: JSON, key: String) -> JSON {
        switch value {
        case .object(let members):
            var out = JSONObject()
            for (k, v) in members.pairs { out[k] = hideSecrets(v, key: k) }
            return .object(out)
        case .array(let items): return .array(items.map { hideSecrets($0, key: key) })
        case .string(let s) where !s.isEmpty && Redact.isSecretKey(key): return .string("")
        default: return value
        }
    }

    /// The user's knowledge index, copied (the sample may rebuild it, with the mock's vectors).
    static func copyIndex(_ source: String, to target: String) throws(DlgError) {
        do {
            try FileManager.default.copyItem(atPath: source, toPath: target)
            try? FileManager.default.removeItem(atPath: (target as NSString).appendingPathComponent(".lock"))
        } catch {
            throw DlgError.io("\(source): cannot copy the knowledge index for the dry run: \(error.localizedDescription)")
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}
