// A config file in a temporary folder, loaded with an explicit environment (never the process's own).

import DlgTestSupport
import Foundation
import Testing
@testable import DlgCore

struct ConfigFile {
    let work: WorkDir
    var path: String { work.file("config.yaml").path }

    init(_ yaml: String, dotenv: String? = nil) throws {
        work = try WorkDir(copyExamples: false, label: "conformance")
        try work.write("config.yaml", yaml)
        if let dotenv { try work.write(".env", dotenv) }
    }

    func settings(_ env: [String: String] = [:]) throws -> Settings { try Settings.load(path: path, environment: env) }
    func tree(_ env: [String: String] = [:]) throws -> ConfigTree { try ConfigLoader.load(path: path, environment: env) }

    /// The config error a load (or `then`) throws; records an issue when there is none.
    func configError(_ env: [String: String] = [:], then: (Settings) throws -> Void = { _ in },
                     sourceLocation: SourceLocation = #_sourceLocation) -> String {
        do {
            let s = try settings(env)
            try then(s)
            Issue.record("expected a config error", sourceLocation: sourceLocation)
        } catch let e as DlgError {
            #expect(e.code == .config, "\(e)", sourceLocation: sourceLocation)
            return e.message
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        return ""
    }
}

/// The three agents with a model each, so that only what a test is about can make one unusable.
let modelsForAll = """
  agents:
    qa_generator: {model: m-user}
    kb_responder: {model: m-assistant}
    qa_judge: {model: m-judge}
"""
