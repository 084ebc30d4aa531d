import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The Hub export's folder (`saving.hf_push.export_dir`) and how an export replaces the last one.
///
/// Exporting again removes what the last export wrote, so the folder is checked before anything is
/// touched: once every link is followed it must lie strictly inside `saving.output_dir` (not be it, not
/// be above it, not be the run state), else the export stops with a config error naming the key and
/// where it was set. An empty name, `..` or an absolute path elsewhere once removed the run's outputs.
///
/// Inside the folder, only what the tool wrote is ever replaced or removed: each export lists its files
/// in `.dlgforge_export.json` there, and the next one removes exactly those. A file the tool did not
/// write that stands where the export would write stops it (a config error naming the file); anything
/// else a user puts in the folder is left alone (and uploaded with it).
struct HubExportFolder {
    static let key = "saving.hf_push.export_dir"
    static let manifestName = ".dlgforge_export.json"

    /// The folder, every link resolved.
    let path: String
    /// Where `export_dir` was set, for messages (`config.yaml:31`).
    let origin: String

    /// Checks `saving.hf_push.export_dir` against `saving.output_dir`; touches nothing.
    static func resolve(settings: Settings) throws(DlgError) -> HubExportFolder {
        let origin = settings.tree.location(of: key)
        let out = settings.outputDir
        let name: String
        switch settings.saving.hfPush["export_dir"] {
        case nil, .null?: name = RunLayout.hubExportFolder
        case .string(let s)?: name = s
        case let other?: throw DlgError.config("\(origin): \(key): expected a folder name, found \(other.typeName)")
        }
        func refuse(_ why: String) -> DlgError {
            DlgError.config("\(origin): \(key): \"\(name)\" \(why); an export replaces what the last one wrote there, so it must be a folder of its own inside saving.output_dir (\(out)), such as hf_export")
        }
        if name.trimmingCharacters(in: .whitespaces).isEmpty { throw refuse("is empty") }
        guard let outputs = resolved(out) else { throw refuse("cannot be checked: saving.output_dir is a link to nothing") }
        let candidate = name.hasPrefix("/") ? name : (out as NSString).appendingPathComponent(name)
        guard let real = resolved(candidate) else { throw refuse("is a link to nothing") }
        let inside = outputs == "/" ? "/" : outputs + "/"
        guard real.hasPrefix(inside), real.count > inside.count else {
            throw refuse(real == outputs ? "is saving.output_dir itself" : "is outside saving.output_dir (it is \(real))")
        }
        let state = inside + RunLayout.stateFolder
        if real == state || real.hasPrefix(state + "/") { throw refuse("is in the run state folder") }
        return HubExportFolder(path: real, origin: origin)
    }

    /// `path` with every link followed; the part that does not exist yet is taken as written.
    /// Nil when a link on the way points at nothing (writing through it would land anywhere).
    static func resolved(_ path: String) -> String? {
        if let r = realpath(path, nil) {
            defer { free(r) }
            return String(cString: r)
        }
        var st = stat()
        if lstat(path, &st) == 0 { return nil }
        let parent = (path as NSString).deletingLastPathComponent
        let last = (path as NSString).lastPathComponent
        if parent == path || parent.isEmpty { return path }
        guard let base = resolved(parent) else { return nil }
        switch last {
        case "", ".": return base
        case "..": return (base as NSString).deletingLastPathComponent
        default: return (base as NSString).appendingPathComponent(last)
        }
    }

    /// The files the last export wrote, relative to the folder (none when it never ran here).
    func lastExport() throws(DlgError) -> [String] {
        let manifest = (path as NSString).appendingPathComponent(Self.manifestName)
        guard Files.exists(manifest) else { return [] }
        guard let files = (try? JSONCodec.parse(Files.read(manifest)))?["files"]?.arrayValue else {
            throw DlgError.data("\(manifest): not the export's list of its files; remove it and the files it listed, then export again")
        }
        var out: [String] = []
        for f in files {
            guard let rel = f.stringValue, Self.isPlain(rel) else {
                throw DlgError.data("\(manifest): \(f.serialized()) is not a path inside the export folder")
            }
            out.append(rel)
        }
        return out
    }

    /// A relative path of plain names: no `/` at the start, no `.`, `..` or empty parts.
    static func isPlain(_ rel: String) -> Bool {
        !rel.hasPrefix("/") && !rel.split(separator: "/", omittingEmptySubsequences: false)
            .contains { $0.isEmpty || $0 == "." || $0 == ".." }
    }

    /// The regular files under `dir`, relative, sorted.
    static func files(under dir: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = walker.nextObject() as? String {
            var st = stat()
            if lstat((dir as NSString).appendingPathComponent(rel), &st) == 0, st.st_mode & S_IFMT == S_IFREG { out.append(rel) }
        }
        return out.sorted()
    }

    /// Whether every folder between the export folder and `rel` is a real folder of it (or missing),
    /// so nothing reaches through a link placed inside the export folder.
    func staysInside(_ rel: String) -> Bool {
        var p = path
        for part in rel.split(separator: "/").dropLast() {
            p = (p as NSString).appendingPathComponent(String(part))
            var st = stat()
            if lstat(p, &st) != 0 { return true }
            if st.st_mode & S_IFMT != S_IFDIR { return false }
        }
        return true
    }
}

extension HubExportFolder {
    /// Puts the export built in `staging` in place of the last one: the files the last export wrote are
    /// removed, the new ones renamed in (each a rename: a reader sees an old file or a whole new one).
    /// Nothing is touched when a new file would land on one the last export did not write. The list
    /// on disk covers both exports while files move, so a killed export leaves nothing unlisted.
    func replace(with staging: String) throws(DlgError) {
        let last = try lastExport()
        let written = Set(last)
        let new = Self.files(under: staging)
        for rel in new + last where !staysInside(rel) {
            throw DlgError.config("\((path as NSString).appendingPathComponent(rel)): a folder on the way is a link or a file; remove it or set \(Self.key) (\(origin)) to another folder")
        }
        for rel in new where !written.contains(rel) && Self.present((path as NSString).appendingPathComponent(rel)) {
            throw DlgError.config("\((path as NSString).appendingPathComponent(rel)): not written by the last export (it is not in \(Self.manifestName)), so it is not replaced; move it away or set \(Self.key) (\(origin)) to another folder")
        }
        try Files.makeDirectory(path)
        try writeManifest(Array(written.union(new)).sorted())
        let kept = Set(new)
        var emptied: Set<String> = []
        for rel in last where !kept.contains(rel) {
            unlink((path as NSString).appendingPathComponent(rel))
            var dir = (rel as NSString).deletingLastPathComponent
            while !dir.isEmpty { emptied.insert(dir); dir = (dir as NSString).deletingLastPathComponent }
        }
        for rel in new {
            let target = (path as NSString).appendingPathComponent(rel)
            try Files.makeDirectory((target as NSString).deletingLastPathComponent)
            if rename((staging as NSString).appendingPathComponent(rel), target) != 0 {
                throw DlgError.io("\(target): cannot put the export in place: \(String(cString: strerror(errno)))")
            }
        }
        // Folders the last export's files were in, deepest first, if nothing is left in them.
        for dir in emptied.sorted(by: { $0.count > $1.count }) { rmdir((path as NSString).appendingPathComponent(dir)) }
        try writeManifest(new)
    }

    func writeManifest(_ files: [String]) throws(DlgError) {
        let text = JSON.obj(["written_by": "dlg-export --hub", "files": JSON(files)]).prettyBytes()
        try Files.writeAtomically(text, to: (path as NSString).appendingPathComponent(Self.manifestName))
    }

    /// Whether anything (a file, a folder, a link) is at `path`.
    static func present(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}
