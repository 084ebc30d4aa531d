// A knowledge file that cannot be read stops the index build with its name; a link out of the
// knowledge folder is refused (its text would go to the LLM and into the dataset).

@testable import DlgCore
import Foundation
import Testing

@Suite struct KnowledgeFilesTests {
    /// A project with knowledge/good.md, `prepare` run on its folder, then the index built.
    func build(_ prepare: (String) throws -> Void) async throws -> DlgError? {
        let f = try ConfigFixture("run:\n  batch_size: 2\n")
        defer { f.cleanup() }
        try FileManager.default.createDirectory(atPath: f.dir + "/knowledge", withIntermediateDirectories: true)
        try "Kettles boil water.\n".write(toFile: f.dir + "/knowledge/good.md", atomically: false, encoding: .utf8)
        try prepare(f.dir + "/knowledge")
        let settings = try f.load()
        do {
            _ = try await KnowledgeBase.open(settings: settings)
            return nil
        } catch {
            return error
        }
    }

    @Test func aFileThatCannotBeReadIsNamed() async throws {
        let dangling = try await build { dir in #expect(symlink(dir + "/missing.txt", dir + "/gone.txt") == 0) }
        #expect(dangling?.code == .noInput, "\(String(describing: dangling))")
        #expect(dangling?.message.contains("/knowledge/gone.txt: knowledge file cannot be read (No such file or directory)") == true,
                "\(String(describing: dangling))")
        let folder = try await build { dir in
            try FileManager.default.createDirectory(atPath: dir + "/notes.md", withIntermediateDirectories: true)
        }
        #expect(folder?.message.contains("/knowledge/notes.md: knowledge file cannot be read (not a regular file)") == true,
                "\(String(describing: folder))")
    }

    @Test(.enabled(if: geteuid() != 0, "root reads a file whatever its mode"))
    func aFileWithoutReadPermissionIsNamed() async throws {
        let e = try await build { dir in
            try "secret\n".write(toFile: dir + "/closed.txt", atomically: false, encoding: .utf8)
            chmod(dir + "/closed.txt", 0)
        }
        #expect(e?.message.contains("/knowledge/closed.txt: knowledge file cannot be read (Permission denied)") == true, "\(String(describing: e))")
    }

    @Test func aLinkOutOfTheKnowledgeFolderIsRefused() async throws {
        let outside = NSTemporaryDirectory() + "dlg-key-\(UUID().uuidString).txt"
        try "-----BEGIN OPENSSH PRIVATE KEY-----\n".write(toFile: outside, atomically: false, encoding: .utf8)
        defer { unlink(outside) }
        let e = try await build { dir in #expect(symlink(outside, dir + "/notes.txt") == 0) }
        #expect(e?.code == .noInput && e?.message.contains("/knowledge/notes.txt: a link to a file outside the knowledge folder") == true,
                "\(String(describing: e))")
        let inside = try await build { dir in #expect(symlink(dir + "/good.md", dir + "/again.md") == 0) }
        #expect(inside == nil, "a link within the folder is fine: \(String(describing: inside))")
    }
}
