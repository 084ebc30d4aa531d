// A YAML input is counted before it is composed: size, nesting, and values after alias expansion.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct YAMLBoundsTests {
    static func bomb(keys: Bool = false) -> String { HostileYAML.aliasBomb(keys: keys) }

    /// The budget is the reason: the scan stops at the first event past it, having counted one pass
    /// over the file's own events (about a hundred), never the expansion.
    @Test func anAliasBombIsRefusedByTheNodeBudget() throws {
        let text = Self.bomb()
        #expect(text.utf8.count < 500, "the bomb is \(text.utf8.count) bytes")
        #expect(try YAMLBounds.config.check(text) == .nodes)
        #expect(try YAMLBounds.config.check(Self.bomb(keys: true)) == .nodes)
        // The same file under a budget it fits: the count is exact (the expansion's size), not a guess.
        #expect(try YAMLBounds.scan("a: &a [x, y]\nb: [*a, *a]\n", limit: 13, maxDepth: 8) == nil)
        #expect(try YAMLBounds.scan("a: &a [x, y]\nb: [*a, *a]\n", limit: 12, maxDepth: 8) == .nodes)
    }

    /// A long scalar aliased thousands of times: few values, much text (each copy is scanned again).
    @Test func aLongScalarAliasedOftenIsRefusedByItsText() throws {
        var lines = ["a: &a \"" + String(repeating: "U", count: 2000) + "\"", "b: &b [" + Array(repeating: "*a", count: 50).joined(separator: ",") + "]"]
        lines.append("c: [" + Array(repeating: "*b", count: 50).joined(separator: ",") + "]")
        let text = lines.joined(separator: "\n") + "\n"
        #expect(try YAMLBounds.scan(text, limit: 100_000, maxDepth: 8) == nil, "2,551 values: under the value budget")
        #expect(try YAMLBounds.config.check(text) == .text)
    }

    /// Loading the bomb as a config: exit 78 naming the file, and the budget said to be the reason.
    @Test func theConfigLoaderRefusesTheBombWithItsPath() throws {
        let f = try ConfigFixture(Self.bomb(keys: true))
        defer { f.cleanup() }
        do {
            _ = try f.load()
            Issue.record("the alias bomb was loaded")
        } catch let e as DlgError {
            #expect(e.code == .config, "\(e)")
            #expect(e.message.hasPrefix(f.path + ": "), "\(e.message)")
            #expect(e.message.contains("more than 100000 values once its aliases are expanded"), "\(e.message)")
        }
    }

    @Test func aConfigThatUsesAliasesModestlyStillLoads() throws {
        let f = try ConfigFixture("llm: &llm\n  temperature: 0.3\nrun:\n  batch_size: 2\n  target_languages: &langs [en, fr]\n")
        defer { f.cleanup() }
        #expect(try f.load().run.targetLanguages == ["en", "fr"])
    }

    @Test func sizeAndDepthAreBounded() throws {
        let deep = "run:\n  x: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "\n"
        #expect(try YAMLBounds.config.check(deep) == .depth)
        let f = try ConfigFixture("run:\n  batch_size: 2\n# " + String(repeating: "x", count: 5 << 20) + "\n")
        defer { f.cleanup() }
        #expect(throws: DlgError.self) { _ = try f.load() }
        do { _ = try f.load() } catch let e as DlgError {
            #expect(e.code == .config && e.message.contains("more than the 4 MiB"), "\(e.message)")
        }
    }
}
