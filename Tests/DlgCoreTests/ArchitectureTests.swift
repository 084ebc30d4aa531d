// The floors of DlgCore (docs/architecture.md): each folder uses only the folders below it. Checked on
// the sources themselves: a type declared at the top level of a higher folder must not be named in a
// lower one (or in a sibling on the same floor).

@testable import DlgCore
import Foundation
import Testing

@Suite struct ArchitectureTests {
    /// The floors, bottom first; docs/architecture.md shows the same list. Folders on one floor do not
    /// use each other, except the basement's: `JSON` throws `DlgError`, `Redact` masks a secret as JSON
    /// writes it.
    static let floors: [[String]] = [
        ["Support", "JSON"], ["Records"], ["Config"], ["Inputs"], ["Store"], ["LLM", "Export"],
        ["Retrieval"], ["Agents"], ["Stages"], ["Run"], ["Cluster"],
    ]

    static let sourcesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/DlgCore")

    /// Every Swift file of DlgCore as (its top folder, its text).
    static func sources() throws -> [(folder: String, path: String, text: String)] {
        let root = sourcesDir.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [(String, String, String)] = []
        for case let relative as String in walker where relative.hasSuffix(".swift") {
            let folder = String(relative.split(separator: "/")[0])
            out.append((folder, relative, try String(contentsOfFile: root + "/" + relative, encoding: .utf8)))
        }
        return out.sorted { $0.1 < $1.1 }
    }

    /// The text without comments and string literals (a type named in a doc comment or a message is
    /// no arrow).
    /// `keepLines`: a comment or string over several lines leaves its line breaks (for line counts).
    static func code(_ text: String, keepStrings: Bool = false, keepLines: Bool = false) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func at(_ j: Int, _ literal: String) -> Bool {
            var k = j
            for c in literal.unicodeScalars {
                guard k < s.count, s[k] == c else { return false }
                k += 1
            }
            return true
        }
        while i < s.count {
            if at(i, "//") {
                while i < s.count && s[i] != "\n" { i += 1 }
            } else if at(i, "/*") {
                i += 2
                while i < s.count && !at(i, "*/") {
                    if keepLines && s[i] == "\n" { out.append("\n") }
                    i += 1
                }
                i += 2
            } else if at(i, "\"\"\"") || at(i, "#\"\"\"") {
                let hashes = s[i] == "#" ? "#" : ""
                let from = i
                i += 3 + hashes.count
                while i < s.count && !at(i, "\"\"\"" + hashes) { i += s[i] == "\\" ? 2 : 1 }
                i += 3 + hashes.count
                if keepStrings {
                    out.append(contentsOf: s[from..<min(i, s.count)])
                } else {
                    out.append(" ")
                    if keepLines { out.append(contentsOf: String(repeating: "\n", count: s[from..<min(i, s.count)].filter { $0 == "\n" }.count).unicodeScalars) }
                }
            } else if at(i, "\"") || at(i, "#\"") {
                let hashes = s[i] == "#" ? "#" : ""
                let from = i
                i += 1 + hashes.count
                while i < s.count && !at(i, "\"" + hashes) && s[i] != "\n" { i += s[i] == "\\" && hashes.isEmpty ? 2 : 1 }
                i += 1 + hashes.count
                if keepStrings { out.append(contentsOf: s[from..<min(i, s.count)]) } else { out.append(" ") }
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(out)
    }

    /// The types a file declares at its top level (not nested, not private to the file).
    static func declaredTypes(_ code: String) -> [String] {
        let kinds: Set<Substring> = ["struct", "class", "enum", "protocol", "actor", "typealias"]
        var names: [String] = []
        for line in code.split(separator: "\n") where !(line.first?.isWhitespace ?? true) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "<" || $0 == "{" || $0 == "=" })
            guard let k = words.firstIndex(where: kinds.contains), k + 1 < words.count,
                  !words[..<k].contains("private"), !words[..<k].contains("fileprivate") else { continue }
            names.append(String(words[k + 1]))
        }
        return names
    }

    /// The identifiers of a text that start with a capital letter.
    static func typeTokens(_ code: String) -> Set<String> {
        Set(code.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") })
            .filter { $0.first?.isUppercase ?? false }.map(String.init))
    }

    /// Every reference against the floors: `Support/X.swift names Run's RunOrchestrator`.
    static func violations(_ files: [(folder: String, path: String, text: String)]) -> [String] {
        var floorOf: [String: Int] = [:]
        for (n, floor) in floors.enumerated() { for folder in floor { floorOf[folder] = n } }
        var owner: [String: String] = [:]
        for file in files { for name in declaredTypes(code(file.text)) { owner[name] = file.folder } }
        var found: [String] = []
        for file in files {
            guard let mine = floorOf[file.folder] else { continue }
            for token in typeTokens(code(file.text)).sorted() {
                guard let theirs = owner[token], theirs != file.folder, let theirFloor = floorOf[theirs] else { continue }
                if theirFloor > mine || (theirFloor == mine && mine != 0) {
                    found.append("\(file.path) names \(theirs)'s \(token)")
                }
            }
        }
        return found
    }

    /// The names of a run's files and folders that only `RunLayout` spells.
    static let runFileNames = RunLayout.datasetFiles + [
        RunLayout.stateFolder, RunLayout.filteredFile, RunLayout.metricsFile, RunLayout.reportFile,
        RunLayout.ledgerFile, RunLayout.lastRunIDFile, RunLayout.datasetCommitFile, RunLayout.journalFile,
        RunLayout.finishedFile, RunLayout.rejudgedFile, RunLayout.runLog, RunLayout.llmLog, RunLayout.judgeLog,
        RunLayout.runsFile, RunLayout.logsFolder, RunLayout.limitsSocket,
    ]

    /// A run's file names in the code of DlgCore (comments aside) but `RunLayout`'s: `"run_state"`,
    /// `"logs/run.log"`, `"\(root)/journal.jsonl"` (a message naming one is no path: interpolate it).
    @Test func onlyRunLayoutSpellsARunsFileNames() throws {
        var found: [String] = []
        for file in try Self.sources() where file.path != "Support/RunLayout.swift" {
            let code = Self.code(file.text, keepStrings: true)
            for name in Self.runFileNames {
                for before in ["\"", "/"] where code.contains(before + name + "\"") || code.contains(before + name + "/") {
                    found.append("\(file.path) spells \(name)")
                }
            }
        }
        #expect(Self.runFileNames.count == 21)
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    @Test func everyFolderIsOnAFloor() throws {
        let folders = Set(try Self.sources().map(\.folder))
        #expect(folders.count >= 10, "\(Self.sourcesDir.path): \(folders)")
        #expect(folders == Set(Self.floors.joined()), "a folder of DlgCore that is not on a floor, or a floor with no folder")
    }

    @Test func noFolderUsesOneAboveIt() throws {
        let found = Self.violations(try Self.sources())
        #expect(found.isEmpty, "arrows that point up:\n\(found.joined(separator: "\n"))")
    }

    /// The check itself: an arrow up or across is found, one down or in a comment or string is not.
    @Test func theCheckFindsAnArrowUp() {
        let files: [(folder: String, path: String, text: String)] = [
            ("Run", "Run/A.swift", "public final class RunThing {\n    let s = LowThing()\n}\n"),
            ("Support", "Support/B.swift", "public struct LowThing {}\n/// Not RunThing in a comment.\nlet m = \"RunThing\"\n"),
            ("Config", "Config/C.swift", "struct Settingsish {\n    struct Nested {}\n    var x: RunThing?\n}\n"),
            ("Export", "Export/D.swift", "enum Exporting { static let t = Caching.self }\n"),
            ("LLM", "LLM/E.swift", "final class Caching {}\nprivate struct Key {}\n"),
            ("Store", "Store/F.swift", "private struct Key {}\n"),
        ]
        #expect(Self.violations(files) == ["Config/C.swift names Run's RunThing", "Export/D.swift names LLM's Caching"])
        #expect(Self.declaredTypes(Self.code(files[2].text)) == ["Settingsish"])
    }
}
