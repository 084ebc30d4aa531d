// The built dlg-mock as a child process: started on port 0, its port read from its one stdout line.

import DlgCore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A running `dlg-mock`. Stop it with `stop()`; deinit kills it if a test did not.
public final class MockServerProcess: @unchecked Sendable {
    public let child: ChildProcess
    /// `http://127.0.0.1:<port>/v1`, as the mock printed it.
    public let baseURL: String
    public let port: Int
    let files: StdioFiles

    /// Starts `dlg-mock --port 0 <options>` and waits (up to 20 s) for its `listening on` line.
    public init(options: [String] = []) async throws {
        let files = try StdioFiles()
        let c = try ChildProcess(executable: try ToolPaths.binary("dlg-mock"), arguments: ["--port", "0"] + options,
                                 environment: ToolEnvironment.make(), cwd: nil, stdinPath: nil,
                                 stdoutPath: files.stdout, stderrPath: files.stderr)
        let prefix = "dlg-mock listening on "
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        var found: String?
        while found == nil {
            let text = files.read(files.stdout)
            if let nl = text.firstIndex(of: "\n") {
                let line = String(text[..<nl])
                guard line.hasPrefix(prefix) else {
                    await c.killAndReap()
                    files.remove()
                    throw HarnessError("dlg-mock printed \(line.debugDescription), not \"\(prefix)http://...\"")
                }
                found = String(line.dropFirst(prefix.count))
                break
            }
            if let status = c.poll() {
                let err = files.read(files.stderr)
                files.remove()
                throw HarnessError("dlg-mock \(options.joined(separator: " ")) exited with status \(status) before listening: \(err)")
            }
            if clock.now >= deadline {
                await c.killAndReap()
                let err = files.read(files.stderr)
                files.remove()
                throw HarnessError("dlg-mock did not print its port within 20 s; stderr: \(err)")
            }
            do { try await Task.sleep(for: .milliseconds(10)) } catch {
                await c.killAndReap()
                files.remove()
                throw error
            }
        }
        let url = found!
        guard let comps = URLComponents(string: url), let p = comps.port else {
            await c.killAndReap()
            files.remove()
            throw HarnessError("cannot read a port in \(url.debugDescription)")
        }
        self.files = files
        child = c
        baseURL = url
        port = p
    }

    deinit {
        child.kill(SIGKILL)
        files.remove()
    }

    /// The environment the example config reads its server from.
    public var env: [String: String] { ["DLGFORGE_BASE_URL": baseURL] }

    /// What the mock wrote on stderr so far.
    public var stderrText: String { files.read(files.stderr) }

    /// SIGTERM, then waits up to 5 s (SIGKILL after that); returns the exit status.
    @discardableResult
    public func stop() async -> Int32 {
        child.kill(SIGTERM, group: false)
        if let s = try? await child.wait(timeout: .seconds(5)) { return s }
        return await child.killAndReap()
    }

    /// `GET /stats`: the mock's request counters.
    public func stats() async throws -> JSON {
        let root = baseURL.hasSuffix("/v1") ? String(baseURL.dropLast(3)) : baseURL
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 10
        let session = URLSession(configuration: configuration)
        defer { session.invalidateAndCancel() }
        let (data, _) = try await session.data(from: URL(string: root + "/stats")!)
        do {
            return try JSONCodec.parse([UInt8](data))
        } catch {
            throw HarnessError("/stats is not JSON: \(String(decoding: data, as: UTF8.self))")
        }
    }
}

/// Runs `body` with a fresh dlg-mock started with `options`; the mock is stopped on every path
/// (and killed by its deinit should a test crash past this).
public func withMock<T>(_ options: [String] = [], _ body: (MockServerProcess) async throws -> T) async throws -> T {
    let mock = try await MockServerProcess(options: options)
    do {
        let result = try await body(mock)
        await mock.stop()
        return result
    } catch {
        await mock.stop()
        throw error
    }
}
