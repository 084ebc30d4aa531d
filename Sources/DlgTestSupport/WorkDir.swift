// A fresh project folder per test: a copy of examples/ (config, knowledge, personas, seed topics),
// config edits, file helpers; removed at the end.

import DlgCore
import Foundation

/// A temporary project folder. Paths in the config are relative to it, so outputs land in
/// `<dir>/outputs` and logs in `<dir>/logs`. Removed on `cleanup()` or deinit, unless the
/// environment variable `DLG_KEEP_WORKDIRS` is set (to look at a failed test's files).
public final class WorkDir: @unchecked Sendable {
    public let url: URL
    public var path: String { url.path }
    private var removed = false

    /// The files of examples/ a run needs (not its outputs/, logs/ or knowledge_index/).
    public static let exampleItems = ["config.yaml", "knowledge", "personas.yaml", "data"]

    /// A new empty folder, or a copy of the examples with `copyExamples`.
    public init(copyExamples: Bool = true, label: String = "tooltest") throws {
        var template = Array((temporaryRoot() + "/dlg-\(label)-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("cannot create a temporary folder")
        }
        url = URL(fileURLWithPath: String(cString: p))
        if copyExamples {
            for item in Self.exampleItems {
                try FileManager.default.copyItem(at: ToolPaths.examplesDir.appendingPathComponent(item),
                                                 to: url.appendingPathComponent(item))
            }
        }
    }

    deinit { cleanup() }

    /// Removes the folder (kept when `DLG_KEEP_WORKDIRS` is set).
    public func cleanup() {
        guard !removed else { return }
        removed = true
        if ProcessInfo.processInfo.environment["DLG_KEEP_WORKDIRS"] != nil {
            FileHandle.standardError.write(Data("kept work dir \(path)\n".utf8))
            return
        }
        try? FileManager.default.removeItem(at: url)
    }

    // MARK: Files

    public func file(_ relative: String) -> URL { url.appendingPathComponent(relative) }
    public func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: file(relative).path) }

    public func read(_ relative: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file(relative).path) else {
            throw HarnessError("\(relative) does not exist in \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    public func write(_ relative: String, _ text: String) throws {
        let target = file(relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: target)
    }

    public func remove(_ relative: String) throws { try FileManager.default.removeItem(at: file(relative)) }

    /// Every regular file under `relative` (recursively), as paths relative to that folder, sorted.
    public func files(under relative: String = ".") -> [String] {
        let root = relative == "." ? url : file(relative)
        guard let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var out: [String] = []
        let prefix = root.standardizedFileURL.path + "/"
        for case let u as URL in e where (try? u.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            let p = u.standardizedFileURL.path
            out.append(p.hasPrefix(prefix) ? String(p.dropFirst(prefix.count)) : p)
        }
        return out.sorted()
    }

    /// The records of a JSONL file (every line must be a JSON object).
    public func records(_ relative: String) throws -> [JSONObject] {
        do { return try JSONL.records(try read(relative)) } catch let e as HarnessError {
            throw HarnessError("\(relative): \(e.description)")
        }
    }

    // MARK: Config

    /// `<dir>/config.yaml`.
    public var configPath: String { file("config.yaml").path }

    /// Replaces config.yaml with `yaml`.
    public func writeConfig(_ yaml: String) throws { try write("config.yaml", yaml) }

    /// Sets `section.key` in config.yaml to `value` (YAML text, e.g. `0`, `[en]`, `gaussian`): the
    /// key's line is replaced, or added at the top of its section, or the section is appended.
    /// Only the two-level shape of the example config is handled.
    public func setConfig(_ keyPath: String, _ value: String) throws {
        let parts = keyPath.split(separator: ".").map(String.init)
        guard parts.count == 2 else { throw HarnessError("setConfig handles section.key paths, not \(keyPath)") }
        let (section, key) = (parts[0], parts[1])
        var lines = try read("config.yaml").components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { Self.isKeyLine($0, key: section, indent: 0) }) else {
            if lines.last == "" { lines.removeLast() }
            lines += ["\(section):", "  \(key): \(value)", ""]
            try writeConfig(lines.joined(separator: "\n"))
            return
        }
        var end = start + 1
        while end < lines.count {
            let l = lines[end]
            if let first = l.first, first != " ", first != "#" { break }
            end += 1
        }
        if let i = (start + 1..<end).first(where: { Self.isKeyLine(lines[$0], key: key, indent: nil) }) {
            let indent = lines[i].prefix { $0 == " " }
            lines[i] = "\(indent)\(key): \(value)"
        } else {
            lines.insert("  \(key): \(value)", at: start + 1)
        }
        try writeConfig(lines.joined(separator: "\n"))
    }

    /// The 1-based line of `section.key` in config.yaml, for checking `config.yaml:<line>` in messages.
    public func configLine(of keyPath: String) throws -> Int {
        let parts = keyPath.split(separator: ".").map(String.init)
        let lines = try read("config.yaml").components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { Self.isKeyLine($0, key: parts[0], indent: 0) }) else {
            throw HarnessError("no section \(parts[0]) in config.yaml")
        }
        if parts.count == 1 { return start + 1 }
        var i = start + 1
        while i < lines.count {
            if let first = lines[i].first, first != " ", first != "#" { break }
            if Self.isKeyLine(lines[i], key: parts[1], indent: nil) { return i + 1 }
            i += 1
        }
        throw HarnessError("no key \(keyPath) in config.yaml")
    }

    static func isKeyLine(_ line: String, key: String, indent: Int?) -> Bool {
        let spaces = line.prefix { $0 == " " }.count
        if let indent, spaces != indent { return false }
        if indent == nil && spaces == 0 { return false }
        return line.dropFirst(spaces).hasPrefix(key + ":")
    }
}
