import DlgCore
import DlgMock
import Foundation

/// The mock `dlg-run --dry-run` runs its sample against: the project's own (`DlgMock`, what
/// `dlg-mock` serves), in this process, on a free loopback port, for as long as `body` runs.
public enum DryRunMock {
    public static func with<T>(_ body: (String) async throws -> T) async throws -> T {
        let server = MockServer(options: MockOptions())
        let port: Int
        do {
            port = try await server.start()
        } catch {
            throw DlgError.unavailable("the dry run's mock cannot listen on 127.0.0.1: \(error)")
        }
        do {
            let result = try await body("http://127.0.0.1:\(port)/v1")
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}
