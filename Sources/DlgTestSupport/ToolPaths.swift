// Where the built tools, the package and its examples are, for tests that run the binaries.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

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

    /// The folder of the built tools: `$DLG_BIN_DIR`, else `<package>/.build/debug`; with the links to
    /// `dlg` made when missing (tests run `<binDir>/dlg-gen` and put the folder on PATH).
    public static var binDir: URL {
        let dir: URL
        if let path = ProcessInfo.processInfo.environment["DLG_BIN_DIR"], !path.isEmpty {
            dir = URL(fileURLWithPath: path)
        } else {
            dir = packageRoot.appendingPathComponent(".build/debug")
        }
        try? linkTools(in: dir)
        return dir
    }

    /// The example project (config.yaml, knowledge/, personas.yaml, data/seeds/).
    public static var examplesDir: URL { packageRoot.appendingPathComponent("examples") }

    /// The tools that are links to the multicall binary `dlg` (scripts/link-tools.sh).
    public static let linkedTools = ["dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge", "dlg-export", "dlg-run", "dlg-cluster"]

    /// The path of a built tool; throws, saying how to build it, when it is missing. A tool of `dlg`
    /// is a link to it, made here when a bare `swift build` left none (with every other tool's link:
    /// dlg-run starts its stages from its own folder).
    public static func binary(_ name: String) throws -> String {
        let dir = binDir
        if linkedTools.contains(name) { try linkTools(in: dir) }  // again, for its error
        let path = dir.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw HarnessError("\(path) is not built: run `swift build` first (or set DLG_BIN_DIR)")
        }
        return path
    }

    /// What scripts/link-tools.sh does: `dlg-gen -> dlg` etc. in `dir` when `dir/dlg` exists, replacing
    /// a missing link or a tool an older build left there. Each link is made under a name of its own,
    /// then renamed into place, so tests running at once never see a half-made or missing one.
    public static func linkTools(in dir: URL) throws {
        guard FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("dlg").path) else { return }
        for tool in linkedTools {
            let path = dir.appendingPathComponent(tool).path
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) == "dlg" { continue }
            let temporary = dir.appendingPathComponent(".\(tool).link.\(getpid()).\(UInt64.random(in: 0...UInt64.max))").path
            guard symlink("dlg", temporary) == 0 else {
                throw HarnessError("\(temporary): cannot make a link to dlg: \(String(cString: strerror(errno)))")
            }
            guard rename(temporary, path) == 0 else {
                let problem = String(cString: strerror(errno))
                unlink(temporary)
                throw HarnessError("\(path): cannot rename the link \(temporary) into place: \(problem)")
            }
        }
    }
}

/// The temporary folder without a trailing slash, so paths in messages read `/tmp/x`, not `/tmp//x`.
func temporaryRoot() -> String {
    var dir = NSTemporaryDirectory()
    while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
    return dir
}
