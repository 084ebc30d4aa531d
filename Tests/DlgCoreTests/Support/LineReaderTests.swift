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

    /// The CPU time the calling thread has used, in seconds. Not the wall clock: on a machine shared with
    /// a whole test suite the wall clock measures the load (a fresh clone's `make test` saw 32 MiB take
    /// 27.9 times as long as 4 MiB), the thread's CPU time only the reading.
    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    static func readOneLine(_ megabytes: Int) throws -> Double {
        let bytes = [UInt8](repeating: 0x62, count: megabytes << 20) + [0x0A] + Array("short".utf8)
        let (r, work) = try reader(bytes)
        defer { work.cleanup() }
        let started = threadCPUSeconds()
        #expect(try r.next()?.count == megabytes << 20)
        #expect(try r.next().map { String(decoding: $0, as: UTF8.self) } == "short")
        #expect(try r.next() == nil)
        return threadCPUSeconds() - started
    }

    /// A long line is read in linear time (a search from the line's start after every 256 KiB read made
    /// it quadratic). Relative, and in the reading thread's own CPU time, so a slow (sanitized, loaded)
    /// machine measures the same shape. On a thread of its own: in a debug build it takes many seconds,
    /// which inline would hold one of the cooperative pool's threads and stall the other tests' awaits.
    @Test(.timeLimit(.minutes(5)))
    func aVeryLongLineIsReadOnce() async throws {
        let (small, large) = try await onOwnThread {
            _ = try Self.readOneLine(1)
            return (try Self.readOneLine(4), try Self.readOneLine(32))
        }
        // Eight times the line: linear costs about 8 times as much, the old search 60 times (128 searches
        // of a growing line against 16); the bound leaves three times the linear figure.
        #expect(large / small < 24, "4 MiB in \(small) s of CPU, 32 MiB in \(large) s")
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
