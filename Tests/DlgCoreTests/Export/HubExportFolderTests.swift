// The Hub export folder must be a folder of its own strictly inside saving.output_dir, links followed.

@testable import DlgCore
import Foundation
import Testing

@Suite struct HubExportFolderTests {
    /// The config's folder, with outputs/ made, and the result of resolving `exportDir`.
    func resolve(_ exportDir: String, prepare: (String) throws -> Void = { _ in }) throws -> Result<String, DlgError> {
        let f = try ConfigFixture("run:\n  batch_size: 2\nsaving:\n  hf_push:\n    export_dir: \(exportDir)\n")
        defer { f.cleanup() }
        try FileManager.default.createDirectory(atPath: f.dir + "/outputs", withIntermediateDirectories: true)
        try prepare(f.dir)
        let settings = try f.load()
        do { return .success(try HubExportFolder.resolve(settings: settings).path) } catch { return .failure(error) }
    }

    @Test(arguments: ["\"\"", "\"..\"", "\".\"", "/tmp", "outputs/../..", "run_state", "run_state/hub"])
    func aFolderNotStrictlyInsideTheOutputsIsRefused(_ exportDir: String) throws {
        guard case .failure(let e) = try resolve(exportDir) else {
            Issue.record("export_dir \(exportDir) was accepted")
            return
        }
        #expect(e.code == .config, "\(e)")
        #expect(e.message.contains("config.yaml:5: saving.hf_push.export_dir:"), "\(e.message)")
    }

    @Test func linksAreFollowedBeforeTheCheck() throws {
        let outside = NSTemporaryDirectory() + "dlg-outside-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let viaLink = try resolve("hf_export") { dir in
            #expect(symlink(outside, dir + "/outputs/hf_export") == 0)
        }
        guard case .failure(let e) = viaLink else { Issue.record("a link out of the outputs was accepted"); return }
        #expect(e.message.contains("is outside saving.output_dir"), "\(e.message)")
        let dangling = try resolve("hf_export") { dir in
            #expect(symlink(outside + "/missing", dir + "/outputs/hf_export") == 0)
        }
        guard case .failure(let d) = dangling else { Issue.record("a link to nothing was accepted"); return }
        #expect(d.message.contains("is a link to nothing"), "\(d.message)")
    }

    @Test func aFolderInsideTheOutputsIsTakenWithItsLinksResolved() throws {
        let plain = try resolve("hf_export").get()
        #expect(plain.hasSuffix("/outputs/hf_export"), "\(plain)")
        let nested = try resolve("hub/../exports/hf") { dir in
            try FileManager.default.createDirectory(atPath: dir + "/outputs/hub", withIntermediateDirectories: true)
        }.get()
        #expect(nested.hasSuffix("/outputs/exports/hf"), "\(nested)")
    }

    @Test func theManifestNamesOnlyPathsInsideTheFolder() {
        #expect(HubExportFolder.isPlain("plots/a.svg") && HubExportFolder.isPlain("README.md"))
        for bad in ["../x", "/etc/passwd", "a/../../b", "a//b", "", "./a"] { #expect(!HubExportFolder.isPlain(bad), "\(bad)") }
    }
}
