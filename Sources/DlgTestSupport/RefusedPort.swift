import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback port where connections are refused for as long as this value lives: a TCP socket bound
/// to it but not listening. (A stopped mock's port is not enough: tests run in parallel, and another
/// test's mock may be given the same port a moment later.)
public final class RefusedPort {
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw HarnessError("bind: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    /// An OpenAI-style base URL that nothing answers.
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }
}
