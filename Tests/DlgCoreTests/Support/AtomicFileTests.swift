// Files that matter are written under a temporary name and renamed.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct AtomicFileTests {
    @Test func commitPutsTheWholeFileInPlaceAndDiscardLeavesTheOldOne() throws {
        let work = try WorkDir(copyExamples: false, label: "dlg-atomic")
        let dir = work.path
        let path = dir + "/data.jsonl"
        try Files.writeAtomically("old\n", to: path)
        do {
            let file = try AtomicFile(path, bufferSize: 8)
            try file.write(Array("small ".utf8))                            // buffered
            try file.write(Array(String(repeating: "x", count: 40).utf8))    // straight through
            try file.write(Array("\n".utf8))
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n", "not in place before commit")
            try file.commit()
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "small " + String(repeating: "x", count: 40) + "\n")
        do {
            let abandoned = try AtomicFile(path)
            try abandoned.write(Array("half".utf8))
        }   // dropped without commit
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("small "))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["data.jsonl"], "no temporary left")
    }
}

/// Temporary files are made exclusively beside their target: a link planted at the temporary name is
/// removed, never written through; secrets are 0600 from the start; run state folders are 0700.
@Suite struct TemporaryFileTests {
    @Test func aLinkPlantedAtTheTemporaryNameIsNotFollowed() throws {
        let work = try WorkDir(copyExamples: false, label: "dlg-tmp-link")
        let victim = work.path + "/victim.txt"
        try "keep me\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let path = work.path + "/data.json"
        // Where AtomicFile, writeAtomically and writeSecret write first, as another user could plant it.
        let temporary = "\(path).tmp.\(getpid())"
        for write in [{ try Files.writeAtomically("new\n", to: path) }, { try Files.writeSecret("new\n", to: path) }] {
            #expect(symlink(victim, temporary) == 0)
            try write()
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "keep me\n", "written through the link")
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
            var st = stat()
            #expect(lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG, "the target is a file of its own")
            #expect(lstat(temporary, &st) != 0, "nothing left at the temporary name")
        }
    }

    @Test func secretsAre0600AndRunStateIs0700() throws {
        let work = try WorkDir(copyExamples: false, label: "dlg-tmp-modes")
        let secret = work.path + "/dsn"
        try Files.writeSecret("postgresql://u:pw@h/db", to: secret)
        var st = stat()
        #expect(stat(secret, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let state = work.path + "/outputs/run_state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        try Files.makePrivateDirectory(state)
        #expect(stat(state, &st) == 0 && st.st_mode & 0o777 == 0o700)
        try Files.makePrivateDirectory(work.path + "/fresh/run_state")
        #expect(stat(work.path + "/fresh/run_state", &st) == 0 && st.st_mode & 0o777 == 0o700)
    }
}
