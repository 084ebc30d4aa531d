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
