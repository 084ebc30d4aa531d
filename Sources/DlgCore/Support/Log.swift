import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// An open log file under `logs/`. Each line is one write(2) on an O_APPEND descriptor, so the
/// stage processes writing the same file never interleave within a line.
final class LogSink: @unchecked Sendable {
    private let fd: Int32

    init?(path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        self.fd = fd
    }

    deinit { close(fd) }

    func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in _ = Glibc.write(fd, raw.baseAddress!, raw.count) }
    }
}

/// swift-log handler for the files under `logs/`, in upstream's line format
/// (`time | LEVEL | label | message`), the metadata appended as sorted `key=value` pairs.
public struct FileLogHandler: LogHandler {
    let sink: LogSink
    let label: String
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(Timestamps.log()) | \(Self.levelName(event.level)) | \(label) | \(event.message)"
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        for key in all.keys.sorted() { line += " \(key)=\(all[key]!)" }
        line += "\n"
        // Every log line leaves through here: a key a server echoed in its error body is masked (Redact).
        sink.write(Redact.text(line))
    }

    /// Python logging's level names, as upstream's files carry them.
    static func levelName(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: return "DEBUG"
        case .info, .notice: return "INFO"
        case .warning: return "WARNING"
        case .error: return "ERROR"
        case .critical: return "CRITICAL"
        }
    }
}

/// The project's loggers: labels like `dlg.respond`, metadata keys like `dlg_conversation_id`.
public enum DlgLog {
    /// A logger appending to `<logsDir>/<file>`; it logs nothing (not an error) when the file cannot
    /// be opened, so a read-only folder never stops a stage.
    public static func logger(_ label: String, logsDir: String, file: String) -> Logger {
        try? Files.makeDirectory(logsDir)
        guard let sink = LogSink(path: (logsDir as NSString).appendingPathComponent(file)) else {
            return Logger(label: label) { _ in SwiftLogNoOpLogHandler() }
        }
        return Logger(label: label) { label in FileLogHandler(sink: sink, label: label) }
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
