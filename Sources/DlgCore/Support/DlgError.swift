/// The one error type of dlgforge. Its code decides the process exit status (sysexits).
/// The message never carries a key, token or DSN password: callers pass redacted text.
public struct DlgError: Error, Sendable, CustomStringConvertible {
    public enum Code: Int32, Sendable {
        case usage = 64
        case data = 65
        case noInput = 66
        case unavailable = 69
        case software = 70
        case io = 74
        case tempFail = 75
        case config = 78
        /// Stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it).
        case interrupted = 130
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func config(_ m: String) -> DlgError { DlgError(.config, m) }
    public static func data(_ m: String) -> DlgError { DlgError(.data, m) }
    public static func io(_ m: String) -> DlgError { DlgError(.io, m) }
    public static func unavailable(_ m: String) -> DlgError { DlgError(.unavailable, m) }
}
