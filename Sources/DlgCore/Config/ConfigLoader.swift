import Foundation
import Yams

/// A loaded configuration: upstream's defaults with the user's YAML deep-merged over them,
/// `.env` and environment overrides applied, `${VAR}` expanded.
public struct ConfigTree: Sendable {
    /// The merged tree.
    public var root: JSON
    /// The config file's path, for messages.
    public let file: String
    /// The folder that relative paths are resolved against (upstream's project_root).
    public let projectRoot: String
    /// Line of each key path in the YAML file, for messages.
    let lines: [String: Int]
    /// Which environment variable set a key path, for messages.
    let envSources: [String: String]
    /// The environment after `.env` files were read (variables already set win).
    public let environment: [String: String]
    /// Keys of the user's file that no version of the config defines (`file:line: key`), for a warning:
    /// upstream ignores them silently, and a misspelt key is otherwise easy to miss.
    public var unknownKeys: [String] = []
    /// Other messages for the user about the file (`file:line: ...`): an older key that a newer one
    /// overrides, keys accepted without effect here. The core does not print them; dlg-run does.
    public var warnings: [String] = []

    /// Where a key came from, e.g. `config.yaml:12` or `environment BATCH_SIZE`.
    public func location(of path: String) -> String {
        if let v = envSources[path] { return "environment variable \(v)" }
        var p = path
        while !p.isEmpty {
            if let line = lines[p] { return "\(file):\(line)" }
            guard let dot = p.lastIndex(of: ".") else { break }
            p = String(p[..<dot])
        }
        return file
    }

    /// The value at a dotted key path.
    public func value(at path: String) -> JSON? {
        var node: JSON? = root
        for part in path.split(separator: ".") { node = node?[String(part)] }
        return node
    }

    /// An absolute path for a path relative to the project root.
    public func resolvePath(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return (projectRoot as NSString).appendingPathComponent(path)
    }
}

public enum ConfigLoader {
    /// Loads `path` (YAML). Errors carry code 78 (config) or 66 (missing file).
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(DlgError) -> ConfigTree
    {
        guard Files.exists(path) else { throw DlgError(.noInput, "\(path): config file not found") }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let root = (absolute as NSString).deletingLastPathComponent
        var env = environment
        // Files that hold secrets where others may read them: one warning each.
        var exposed: [String] = []
        for dotenv in [root + "/.env", root + "/src/dlgforge/.env"] where Files.exists(dotenv) {
            let variables = try parseDotEnv(dotenv)
            for (k, v) in variables where env[k] == nil { env[k] = v }
            if SecretFiles.dotEnvHoldsSecret(variables), let w = SecretFiles.warning(dotenv) { exposed.append(w) }
        }
        // Bounded before it is parsed: a config is small, and aliases must not make it large.
        let text = try YAMLBounds.config.readText(path)
        var lines: [String: Int] = [:]
        var user: JSON
        do {
            if let node = try YAMLBounds.config.compose(text, file: path) {
                user = try convert(node, path: "", lines: &lines, file: path)
            } else {
                user = .object(JSONObject())
            }
        } catch let e as DlgError {
            throw e
        } catch let e as YamlError {
            throw DlgError.config("\(path): invalid YAML: \(describe(e))")
        } catch {
            throw DlgError.config("\(path): invalid YAML: \(error)")
        }
        guard case .object = user else {
            throw DlgError.config("\(path):1: the config must be a mapping of sections (run, llm, ...), found \(user.typeName)")
        }
        if SecretFiles.yamlHoldsSecret(user), let w = SecretFiles.warning(path) { exposed.insert(w, at: 0) }
        // Upstream's newer layout (run.turns, llm.mode, llm.agents.user, tools.retrieval, ...) onto ours.
        let layout = try ConfigLayoutV2.normalize(user, lines: &lines, file: path)
        user = layout.tree
        var merged = deepMerge(ConfigDefaults.tree, user)
        // Legacy single-language key.
        if let legacy = merged["run"]?["target_language"], user["run"]?["target_languages"] == nil {
            merged["run"]?["target_languages"] = legacy
        }
        merged = try expandVariables(merged, env: env, path: "", file: path, lines: lines)
        var envSources: [String: String] = [:]
        try applyEnvironment(&merged, env: env, sources: &envSources)
        var tree = ConfigTree(root: merged, file: path, projectRoot: root, lines: lines, envSources: envSources,
                              environment: env)
        var unknown: [String] = []
        collectUnknown(user, defaults: ConfigDefaults.tree, path: "", into: &unknown)
        tree.unknownKeys = (unknown + layout.unknown).map { "\(tree.location(of: $0)): \($0)" }
        tree.warnings = exposed + layout.warnings
        return tree
    }

    static func describe(_ e: YamlError) -> String {
        let s = "\(e)"
        return s.split(separator: "\n").first.map(String.init) ?? s
    }

    /// Reads KEY=VALUE lines; `export`, quotes and comments are understood.
    static func parseDotEnv(_ path: String) throws(DlgError) -> [String: String] {
        var out: [String: String] = [:]
        for raw in try YAMLBounds.config.readText(path).split(separator: "\n", omittingEmptySubsequences: false) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let f = value.first, f == "\"" || f == "'", value.last == f {
                value = String(value.dropFirst().dropLast())
            } else if let hash = value.range(of: " #") {
                value = value[..<hash.lowerBound].trimmingCharacters(in: .whitespaces)
            }
            if !key.isEmpty { out[key] = value }
        }
        return out
    }

    static func convert(_ node: Node, path: String, lines: inout [String: Int], file: String) throws -> JSON {
        if let mark = node.mark, !path.isEmpty, lines[path] == nil { lines[path] = mark.line }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain {
                switch node.tag.rawValue {
                case "tag:yaml.org,2002:null": return .null
                case "tag:yaml.org,2002:bool": if let b = node.bool { return .bool(b) }
                case "tag:yaml.org,2002:int": if let i = node.int { return .int(i) }
                case "tag:yaml.org,2002:float": if let d = node.float { return .double(d) }
                default: break
                }
            }
            return .string(scalar.string)
        case .sequence(let seq):
            var items: [JSON] = []
            for (i, child) in seq.enumerated() {
                items.append(try convert(child, path: "\(path)[\(i)]", lines: &lines, file: file))
            }
            return .array(items)
        case .mapping(let map):
            var obj = JSONObject()
            for (k, v) in map {
                guard let key = k.string else {
                    throw DlgError.config("\(file):\(k.mark?.line ?? 0): mapping keys must be strings")
                }
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                if let mark = k.mark { lines[childPath] = mark.line }
                obj[key] = try convert(v, path: childPath, lines: &lines, file: file)
            }
            return .object(obj)
        case .alias:
            return .null
        }
    }

    /// Free-form mappings whose keys are the user's own.
    static let openMappings: Set<String> = ["llm.extra", "llm.agents", "retrieval.embedding_model_kwargs",
        "retrieval.embedding_tokenizer_kwargs", "retrieval.embedding_encode_kwargs", "saving.output_columns"]
    /// Keys upstream reads that the defaults do not list.
    static let extraKnown: Set<String> = ["run.target_language", "saving.hf_push.clean_remote",
        // Ours: token prices (Pricing), read as given, without defaults.
        "llm.price",
        // Ours: the error storm and the response cache (LLMLayerSettings).
        "llm.error_storm", "llm.cache",
        // Ours: rate limits and adaptive concurrency (LLMLayerSettings).
        "llm.rate_limit", "llm.adaptive_concurrency",
        // Ours: batch mode (BatchAPISettings).
        "llm.batch_api",
        // Ours: where web_search sends its request (WebSearchSettings).
        "tools.serper_url"]

    static func collectUnknown(_ user: JSON, defaults: JSON, path: String, into out: inout [String]) {
        guard case .object(let u) = user, case .object(let d) = defaults else { return }
        for (k, v) in u.pairs {
            let p = path.isEmpty ? k : "\(path).\(k)"
            if openMappings.contains(p) || extraKnown.contains(p) { continue }
            guard let dv = d[k] else { out.append(p); continue }
            collectUnknown(v, defaults: dv, path: p, into: &out)
        }
    }

    /// Mappings merge key by key; anything else in `user` replaces the default.
    static func deepMerge(_ base: JSON, _ user: JSON) -> JSON {
        guard case .object(var b) = base, case .object(let u) = user else { return user }
        for (k, v) in u.pairs {
            if let existing = b[k] { b[k] = deepMerge(existing, v) } else { b[k] = v }
        }
        return .object(b)
    }

    /// Expands `${VAR}` and `${VAR:-default}` in every string. An unset variable without a
    /// default expands to "" as upstream does, except that a whole-value `${VAR}` in a secret is fine empty.
    static func expandVariables(_ value: JSON, env: [String: String], path: String, file: String,
                                lines: [String: Int]) throws(DlgError) -> JSON
    {
        switch value {
        case .string(let s) where s.contains("${"):
            var out = ""
            var rest = Substring(s)
            while let open = rest.range(of: "${") {
                out += rest[..<open.lowerBound]
                guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                    throw DlgError.config("\(file):\(lines[path] ?? 0): \(path): unterminated \"${\" in value")
                }
                let expr = rest[open.upperBound..<close]
                let name: Substring
                var fallback: Substring = ""
                if let dash = expr.range(of: ":-") {
                    name = expr[..<dash.lowerBound]; fallback = expr[dash.upperBound...]
                } else {
                    name = expr
                }
                if let v = env[String(name)], !v.isEmpty { out += v } else { out += fallback }
                rest = rest[rest.index(after: close)...]
            }
            out += rest
            return .string(out)
        case .array(let items):
            var result: [JSON] = []
            for (i, item) in items.enumerated() {
                result.append(try expandVariables(item, env: env, path: "\(path)[\(i)]", file: file, lines: lines))
            }
            return .array(result)
        case .object(let o):
            var result = JSONObject()
            for (k, v) in o.pairs {
                result[k] = try expandVariables(v, env: env, path: path.isEmpty ? k : "\(path).\(k)",
                                                file: file, lines: lines)
            }
            return .object(result)
        default:
            return value
        }
    }

    static func setValue(_ root: inout JSON, path: [Substring], _ value: JSON) {
        guard let first = path.first else { root = value; return }
        let key = String(first)
        var child = root[key] ?? .object(JSONObject())
        setValue(&child, path: Array(path.dropFirst()), value)
        if case .object = root { root[key] = child } else { root = .obj([:]); root[key] = child }
    }

    static func applyEnvironment(_ root: inout JSON, env: [String: String], sources: inout [String: String])
        throws(DlgError)
    {
        for (variable, path, kind) in ConfigDefaults.environmentOverrides {
            guard let raw = env[variable], !raw.isEmpty else { continue }
            let text = raw.trimmingCharacters(in: .whitespaces)
            let value: JSON
            func bad(_ allowed: String) -> DlgError {
                // Values of environment variables are not echoed: they may be secrets.
                DlgError.config("environment variable \(variable) (\(path)): expected \(allowed)")
            }
            switch kind {
            case .int:
                guard let i = Int(text) else { throw bad("an integer, got \"\(text)\"") }
                value = .int(i)
            case .double:
                guard let d = Double(text) else { throw bad("a number, got \"\(text)\"") }
                value = .double(d)
            case .bool:
                value = .bool(!["0", "false", "no", "off"].contains(text.lowercased()))
            case .string:
                value = .string(raw)
            case .list:
                value = JSON(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    .filter { !$0.isEmpty })
            case .json, .jsonList:
                guard let parsed = try? JSONCodec.parse(text) else { throw bad("valid JSON") }
                if kind == .json, parsed.objectValue == nil { throw bad("a JSON object") }
                if kind == .jsonList, parsed.arrayValue == nil { throw bad("a JSON list") }
                value = parsed
            }
            setValue(&root, path: path.split(separator: "."), value)
            sources[path] = variable
        }
    }
}
