// LineReader: lines across reads, a very long line read in linear time, a line over the limit refused
// with its line number.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite struct LineReaderTests {
    static func reader(_ bytes: [UInt8], maxLineBytes: Int = 512 << 20) throws -> (LineReader, WorkDir) {
        let work = try WorkDir(copyExamples: false, label: "lines")
        let path = work.path + "/in.jsonl"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        let fd = open(path, O_RDONLY)
        return (LineReader(fd: fd, name: "in.jsonl", maxLineBytes: maxLineBytes), work)
    }

    @Test func linesSplitAcrossReadsComeBackWhole() throws {
        var bytes: [UInt8] = []
        var expected: [Int] = []
        for i in 0..<3000 {
            let n = (i * 7919) % 700
            bytes += [UInt8](repeating: 0x61, count: n) + [0x0A]
            expected.append(n)
        }
        let (r, work) = try Self.reader(bytes)
        defer { work.cleanup() }
        var got: [Int] = []
        while let line = try r.next() { got.append(line.count) }
        #expect(got == expected)
        #expect(r.lineNumber == 3000)
    }

    /// A long line is searched once: 128 reads of 256 KiB each searched from the line's start would look
    /// at 2 GiB; counted, so a loaded machine cannot fail it.
    @Test func aVeryLongLineIsSearchedOnce() throws {
        let bytes = [UInt8](repeating: 0x62, count: 32 << 20) + [0x0A] + Array("short".utf8)
        let (r, work) = try Self.reader(bytes)
        defer { work.cleanup() }
        #expect(try r.next()?.count == 32 << 20)
        #expect(try r.next().map { String(decoding: $0, as: UTF8.self) } == "short")
        #expect(try r.next() == nil)
        #expect(r.bytesSearched == bytes.count, "\(r.bytesSearched) bytes searched for \(bytes.count)")
    }

    @Test func aLineOverTheLimitIsRefusedWithItsNumber() throws {
        let bytes = Array("{}\n{}\n".utf8) + [UInt8](repeating: 0x63, count: 3 << 20) + [0x0A]
        let (r, work) = try Self.reader(bytes, maxLineBytes: 1 << 20)
        defer { work.cleanup() }
        _ = try r.next(); _ = try r.next()
        do {
            _ = try r.next()
            Issue.record("a 3 MiB line passed a 1 MiB limit")
        } catch {
            #expect(error.code == .data)
            #expect(error.message.hasPrefix("in.jsonl:3: a line longer than 1 MiB"), "\(error.message)")
        }
    }
}
