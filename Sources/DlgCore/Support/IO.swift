#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Reads newline-delimited lines from a file descriptor with read(2), counting line numbers.
/// (FileHandle.bytes does not exist on Linux, and readLine() copies through String.)
public final class LineReader: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false
    /// One read(2) lands here, then is copied once into `buffer` (appending zeros to grow `buffer`
    /// first cost 0.4 s per megabyte in debug builds). 256 KiB reads are as fast as 1 MiB ones here
    /// and keep a stage's resident memory down.
    private var scratch = [UInt8](repeating: 0, count: 1 << 18)
    public private(set) var lineNumber = 0
    /// The name used in messages: "stdin" or a path.
    public let name: String
    /// A longer line is refused (`data`, naming the line) instead of growing the process without bound.
    public let maxLineBytes: Int
    /// Where the search for the next newline goes on: bytes before it hold none.
    private var scanned = 0
    /// Bytes the newline search has looked at since the reader was made: each byte once, whatever the
    /// reads it arrived in (a search from the line's start after every read made a long line quadratic).
    /// Counted for the tests, which check the work instead of timing it.
    internal private(set) var bytesSearched = 0

    /// 512 MiB by default: far beyond any dialogue record (a finished 16-turn one is about 100 KB).
    public init(fd: Int32 = 0, name: String = "stdin", maxLineBytes: Int = 512 << 20) {
        self.fd = fd
        self.name = name
        self.maxLineBytes = maxLineBytes
        buffer.reserveCapacity(1 << 18)
    }

    /// The next line without its newline, or nil at end of input.
    public func next() throws(DlgError) -> ArraySlice<UInt8>? {
        while true {
            // Only the bytes read since the last search: a long line is scanned once, not once per read.
            let from = max(start, scanned)
            if let nl = buffer[from...].firstIndex(of: 0x0A) {
                bytesSearched += nl + 1 - from
                let line = buffer[start..<nl]
                start = nl + 1
                scanned = start
                lineNumber += 1
                return line
            }
            bytesSearched += buffer.count - from
            scanned = buffer.count
            if buffer.count - start > maxLineBytes {
                throw DlgError.data("\(name):\(lineNumber + 1): a line longer than \(maxLineBytes >> 20) MiB; a dialogue record is far smaller, so this is not one")
            }
            if eof {
                if start < buffer.count {
                    let line = buffer[start...]
                    start = buffer.count
                    lineNumber += 1
                    return line
                }
                return nil
            }
            if start > 0 && start >= buffer.count / 2 {
                buffer.removeSubrange(0..<start)
                scanned -= start
                start = 0
            }
            var got = 0
            repeat {
                got = scratch.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress!, raw.count) }
            } while got < 0 && errno == EINTR
            if got < 0 {
                throw DlgError.io("\(name): read failed: \(String(cString: strerror(errno)))")
            }
            if got > 0 { scratch.withUnsafeBufferPointer { buffer.append(contentsOf: $0[0..<got]) } }
            if got == 0 { eof = true }
        }
    }
}

/// Writes to a file descriptor. A closed reader (EPIPE) is reported as `OutputClosed`
/// so the tool can end quietly, as `| head -1` expects.
public final class FDWriter: @unchecked Sendable {
    public struct OutputClosed: Error {}
    private let fd: Int32
    private var pending: [UInt8] = []
    private let limit: Int

    public init(fd: Int32 = 1, bufferSize: Int = 1 << 16) {
        self.fd = fd
        self.limit = bufferSize
        pending.reserveCapacity(bufferSize * 2)
    }

    public func write(_ bytes: some Collection<UInt8>) throws {
        pending.append(contentsOf: bytes)
        if pending.count >= limit { try flush() }
    }

    public func write(_ text: String) throws { try write(Array(text.utf8)) }

    public func flush() throws {
        var offset = 0
        while offset < pending.count {
            let n = pending.withUnsafeBytes { raw in
                Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { pending.removeAll(); throw OutputClosed() }
                let message = String(cString: strerror(errno))
                pending.removeAll()
                throw DlgError.io("write failed: \(message)")
            }
            offset += n
        }
        pending.removeAll(keepingCapacity: true)
    }
}

/// A file written under a temporary name beside its path (`<path>.tmp.<pid>`, which
/// `Files.removeStaleTemporaries` cleans up after a killed process) and put in place by `commit()`,
/// a rename, so a reader sees the old file or the whole new one. Dropped unless committed.
/// The temporary is created exclusively (`Files.createTemporary`): a link left at its name is
/// removed, never followed.
public final class AtomicFile {
    public let path: String
    public let temporary: String
    private var fd: Int32
    private let writer: FDWriter

    public init(_ path: String, bufferSize: Int = 1 << 18) throws(DlgError) {
        self.path = path
        temporary = "\(path).tmp.\(getpid())"
        fd = try Files.createTemporary(temporary)
        writer = FDWriter(fd: fd, bufferSize: bufferSize)
    }

    deinit { discard() }

    public func write(_ bytes: [UInt8]) throws(DlgError) {
        guard fd >= 0 else { throw DlgError(.software, "\(temporary): written after commit") }
        do { try writer.write(bytes) } catch { try failed(error) }
    }

    private func failed(_ error: any Error) throws(DlgError) -> Never {
        discard()
        throw DlgError.io("\(temporary): \((error as? DlgError)?.message ?? "write failed")")
    }

    /// Writes what is buffered and renames the file into place; `durable` fsyncs it first (files
    /// that are rebuilt at will skip that).
    public func commit(durable: Bool = true) throws(DlgError) {
        guard fd >= 0 else { throw DlgError(.software, "\(temporary): committed twice") }
        do { try writer.flush() } catch { try failed(error) }
        if durable { fsync(fd) }
        close(fd)
        fd = -1
        if rename(temporary, path) != 0 {
            let why = String(cString: strerror(errno))
            unlink(temporary)
            throw DlgError.io("\(path): rename failed: \(why)")
        }
    }

    /// Closes and removes the temporary file; nothing happens to `path`.
    public func discard() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
        unlink(temporary)
    }
}

/// File helpers: atomic writes (temporary name, then rename) and appends.
public enum Files {
    /// Writes all of `bytes` to `fd` (a short write or EINTR continues); `path` names it in the error.
    public static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(DlgError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 { if errno == EINTR { continue }; throw DlgError.io("\(path): write failed") }
            written += n
        }
    }

    /// Writes `data` to `path` through a temporary file in the same folder and a rename,
    /// so a reader never sees a half-written file.
    public static func writeAtomically(_ data: [UInt8], to path: String, durable: Bool = true) throws(DlgError) {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try makeDirectory(dir) }
        let file = try AtomicFile(path)
        try file.write(data)
        try file.commit(durable: durable)
    }

    public static func writeAtomically(_ text: String, to path: String, durable: Bool = true) throws(DlgError) {
        try writeAtomically(Array(text.utf8), to: path, durable: durable)
    }

    /// A secret (a key, a DSN) written to a file that is 0600 from its creation: a new file beside the
    /// target, created exclusively (never through a link someone left there), then renamed over it.
    public static func writeSecret(_ text: String, to path: String) throws(DlgError) {
        let tmp = "\(path).tmp.\(getpid())"
        let fd = try createTemporary(tmp, mode: 0o600)
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == bytes.count, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw DlgError.io("\(path): cannot write: \(String(cString: strerror(errno)))")
        }
    }

    /// Opens `temporary` for writing as a new file of this process: whatever is at that name (a stale
    /// temporary of an earlier process with this pid, or a link someone planted) is unlinked first, which
    /// removes a link itself and never what it points at; then the file is created with
    /// `O_CREAT | O_EXCL | O_NOFOLLOW`, so a link or file put there in between makes it fail, never write
    /// elsewhere.
    public static func createTemporary(_ temporary: String, mode: mode_t = 0o644) throws(DlgError) -> Int32 {
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw DlgError.io("\(temporary): cannot create: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Removes `name.tmp.<pid>` files in `dir` left by a process that no longer runs (a killed run).
    public static func removeStaleTemporaries(in dir: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names {
            guard let r = name.range(of: ".tmp.", options: .backwards),
                  let pid = Int32(name[r.upperBound...]) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                unlink((dir as NSString).appendingPathComponent(name))
            }
        }
    }

    public static func makeDirectory(_ path: String) throws(DlgError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw DlgError.io("\(path): cannot create folder: \(error.localizedDescription)")
        }
    }

    /// A folder only its owner may enter (0700), for run state: the journal holds every dialogue and the
    /// run's settings, which are nobody else's business on a shared machine. Its parents are made as
    /// `makeDirectory` makes them; an existing folder is narrowed to 0700 too.
    public static func makePrivateDirectory(_ path: String) throws(DlgError) {
        try makeDirectory(path)
        var st = stat()
        if stat(path, &st) == 0, st.st_uid == geteuid(), st.st_mode & 0o077 != 0, chmod(path, 0o700) != 0 {
            throw DlgError.io("\(path): cannot make the folder private (chmod 700): \(String(cString: strerror(errno)))")
        }
    }

    public static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    public static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }

    public static func read(_ path: String) throws(DlgError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DlgError(.noInput, "\(path): cannot read file")
        }
        return [UInt8](data)
    }

    public static func readText(_ path: String) throws(DlgError) -> String {
        let bytes = try read(path)
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        // Latin-1 fallback as upstream does for knowledge files.
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }
}
