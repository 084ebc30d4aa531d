// A config file in a temp folder, for tests that need Settings.

import Foundation
import Testing
@testable import DlgCore

/// A temp folder with a config file; removed by `cleanup()`.
struct ConfigFixture {
    let dir: String
    var path: String { dir + "/config.yaml" }

    init(_ yaml: String, dotenv: String? = nil) throws {
        dir = NSTemporaryDirectory() + "dlg-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try yaml.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        if let dotenv { try dotenv.write(toFile: dir + "/.env", atomically: true, encoding: .utf8) }
    }

    func load(_ env: [String: String] = [:]) throws -> Settings { try Settings.load(path: path, environment: env) }
    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }
}
