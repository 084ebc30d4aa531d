// The sizes issue 25 set for Sources: no Swift file over 400 lines, no function (func, init, subscript,
// computed property) over 80, so that a reader never has to hold more than a screen or two at once.

import Foundation
import Testing

@Suite struct SizeTests {
    static let maxFileLines = 400
    static let maxFunctionLines = 80

    static let sourcesRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources")

    /// Every Swift file under Sources/, by its path from there.
    static func files() throws -> [(path: String, text: String)] {
        let root = sourcesRoot.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [(String, String)] = []
        for case let relative as String in walker where relative.hasSuffix(".swift") {
            out.append((relative, try String(contentsOfFile: root + "/" + relative, encoding: .utf8)))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// A line that starts a body: a func, an init, a subscript, or a computed property opened on that line.
    nonisolated(unsafe) static let start = #/^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|fileprivate|internal|open|static|class|final|override|mutating|nonisolated|convenience|required|@discardableResult)\s+)*(?:func\s|init[?!]?\s*[(<]|subscript\s*[(<]|var\s+\w+\s*:[^=]*\{\s*$)/#

    /// The bodies longer than `limit` lines, as `name: N lines`. Comments and string literals are taken
    /// out first (a brace in a message is no brace), keeping the lines where they were.
    static func longBodies(_ text: String, limit: Int) -> [String] {
        let lines = ArchitectureTests.code(text, keepStrings: false, keepLines: true).components(separatedBy: "\n")
        var found: [String] = []
        for (i, line) in lines.enumerated() where line.firstMatch(of: start) != nil {
            var depth = 0, opened = false, j = i
            scan: while j < lines.count {
                for c in lines[j] {
                    if c == "{" { depth += 1; opened = true } else if c == "}" { depth -= 1 }
                    if opened && depth == 0 { break scan }
                }
                // A declaration with no body (a protocol's) ends at its line.
                if !opened && j > i && lines[j].firstMatch(of: start) != nil { break }
                j += 1
            }
            if opened && j - i + 1 > limit {
                found.append("line \(i + 1) \(line.trimmingCharacters(in: .whitespaces).prefix(60)): \(j - i + 1) lines")
            }
        }
        return found
    }

    @Test func noSourceFileIsOver400Lines() throws {
        let files = try Self.files()
        #expect(files.count > 100, "\(Self.sourcesRoot.path)")
        let long = files.compactMap { f -> String? in
            let n = f.text.split(separator: "\n", omittingEmptySubsequences: false).count - (f.text.hasSuffix("\n") ? 1 : 0)
            return n > Self.maxFileLines ? "\(f.path): \(n) lines" : nil
        }
        #expect(long.isEmpty, "over \(Self.maxFileLines) lines:\n\(long.joined(separator: "\n"))")
    }

    @Test func noFunctionIsOver80Lines() throws {
        let long = try Self.files().flatMap { f in Self.longBodies(f.text, limit: Self.maxFunctionLines).map { "\(f.path) \($0)" } }
        #expect(long.isEmpty, "over \(Self.maxFunctionLines) lines:\n\(long.joined(separator: "\n"))")
    }

    /// The check itself: a long body is found, braces in strings and comments do not count, and a
    /// protocol's bodiless requirement does not borrow the next function's body.
    @Test func theCheckFindsALongBody() {
        let body = (0..<5).map { "    let x\($0) = \"}}}\" // {{{" }.joined(separator: "\n")
        let text = "protocol P {\n    func a()\n}\nfunc short() {\n\(body)\n}\nstruct S {\n    var v: Int {\n\(body)\n\(body)\n    }\n}\n"
        // short() is 7 lines (its braces in strings and comments not counted), v 12; a() has no body.
        #expect(Self.longBodies(text, limit: 6) == ["line 4 func short() {: 7 lines", "line 12 var v: Int {: 12 lines"])
        #expect(Self.longBodies(text, limit: 7) == ["line 12 var v: Int {: 12 lines"])
        #expect(Self.longBodies(text, limit: 12).isEmpty)
    }
}
