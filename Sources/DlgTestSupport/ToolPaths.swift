// Where the built tools, the package and its examples are, for tests that run the binaries.

import Foundation

/// An error of the test harness itself (not of the tool under test).
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Paths of the package and of the built tools.
public enum ToolPaths {
    /// The package root, found from this file's path (`Sources/DlgTestSupport/ToolPaths.swift`).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The folder of the built tools: `$DLG_BIN_DIR`, else `<package>/.build/debug`.
    public static var binDir: URL {
        if let dir = ProcessInfo.processInfo.environment["DLG_BIN_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir)
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }

    /// The example project (config.yaml, knowledge/, personas.yaml, data/seeds/).
    public static var examplesDir: URL { packageRoot.appendingPathComponent("examples") }

    /// The path of a built tool; throws, saying how to build it, when it is missing.
    public static func binary(_ name: String) throws -> String {
        let path = binDir.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is not built: run `swift build` first (or set DLG_BIN_DIR)")
        }
        return path
    }
}

/// The temporary folder without a trailing slash, so paths in messages read `/tmp/x`, not `/tmp//x`.
func temporaryRoot() -> String {
    var dir = NSTemporaryDirectory()
    while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
    return dir
}
