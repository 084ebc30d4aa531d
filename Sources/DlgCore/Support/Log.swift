import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Appends lines in upstream's format (`time | LEVEL | name | message`) to files under `logs/`.
/// Each line is one write(2) on an O_APPEND descriptor, so concurrent stage processes never interleave.
public final class LogFile: @unchecked Sendable {
    private let fd: Int32
    private let name: String
    private let lock = NSLock()

    /// Opens `<logsDir>/<file>`; logging is off (not an error) when the folder cannot be created.
    public init?(logsDir: String, file: String, name: String) {
        try? Files.makeDirectory(logsDir)
        let fd = open((logsDir as NSString).appendingPathComponent(file), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        self.fd = fd
        self.name = name
    }

    deinit { close(fd) }

    public func info(_ message: String) { write("INFO", message) }
    public func warning(_ message: String) { write("WARNING", message) }
    public func error(_ message: String) { write("ERROR", message) }

    public func write(_ level: String, _ message: String) {
        let line = "\(Timestamps.log()) | \(level) | \(name) | \(message)\n"
        lock.lock()
        defer { lock.unlock() }
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in _ = Glibc.write(fd, raw.baseAddress!, raw.count) }
    }
}

public enum Timestamps {
    /// `2026-11-26 01:02:03,456` as Python's logging prints it.
    public static func log(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        localtime_r(&t, &tm)
        let ms = Int((date.timeIntervalSince1970 - Double(t)) * 1000)
        return stamp(tm, dateTimeSeparator: 0x20, fraction: ms, digits: 3, fractionSeparator: 0x2C)
    }

    /// `YYYY-MM-DD?HH:MM:SS<sep><fraction>`, zero-padded. (String(format:) goes through Foundation's
    /// formatter and cost several microseconds a line: every request writes one.)
    private static func stamp(_ tm: tm, dateTimeSeparator: UInt8, fraction: Int, digits: Int, fractionSeparator: UInt8) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(32)
        func put(_ value: Int, _ width: Int) {
            var v = max(0, value)
            var buffer = [UInt8](repeating: 0x30, count: width)
            var i = width - 1
            while i >= 0 { buffer[i] = 0x30 + UInt8(v % 10); v /= 10; i -= 1 }
            out.append(contentsOf: buffer)
        }
        put(Int(tm.tm_year) + 1900, 4); out.append(0x2D); put(Int(tm.tm_mon) + 1, 2); out.append(0x2D); put(Int(tm.tm_mday), 2)
        out.append(dateTimeSeparator)
        put(Int(tm.tm_hour), 2); out.append(0x3A); put(Int(tm.tm_min), 2); out.append(0x3A); put(Int(tm.tm_sec), 2)
        out.append(fractionSeparator)
        put(fraction, digits)
        return String(decoding: out, as: UTF8.self)
    }

    /// UTC ISO-8601 with `+00:00`, as upstream's record timestamps.
    public static func isoUTC(_ date: Date = Date()) -> String {
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        let us = Int((date.timeIntervalSince1970 - Double(t)) * 1_000_000)
        return stamp(tm, dateTimeSeparator: 0x54, fraction: us, digits: 6, fractionSeparator: 0x2E) + "+00:00"
    }

    /// UTC ISO-8601 ending in `Z`, as upstream's ledger and run state.
    public static func isoZ(_ date: Date = Date()) -> String {
        String(isoUTC(date).dropLast(6)) + "Z"
    }
}
