import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The tools' stderr: error and warning lines, and the progress line. Only the command-line side
/// writes here; the core reports through errors, observers and log files.
public enum StandardError {
    /// Writes a line (a newline is added when missing), secrets masked (`Redact.text`).
    public static func write(_ text: String) {
        var bytes = Array(Redact.text(text).utf8)
        if bytes.last != 0x0A { bytes.append(0x0A) }
        bytes.withUnsafeBytes { raw in _ = Glibc.write(2, raw.baseAddress!, raw.count) }
    }
    public static var isTerminal: Bool { isatty(2) == 1 }

    /// A progress line is drawn when stderr is a terminal, unless `DLG_PROGRESS=0` (dlg-run sets it
    /// for its stages and draws its own line).
    public static var showsProgress: Bool {
        isTerminal && ProcessInfo.processInfo.environment["DLG_PROGRESS"] != "0"
    }

    /// Redraws the progress line in place (`text` starts with a carriage return); `clearLine()` ends it.
    public static func redraw(_ text: String) {
        Redact.text(text).utf8CString.withUnsafeBufferPointer { p in _ = Glibc.write(2, p.baseAddress!, p.count - 1) }
    }
    public static func clearLine() { redraw("\r\u{1B}[K") }
}
