import Foundation

/// What `dlg-cluster up` started (or attached to), so `status`, `run` and `down` know: written to
/// `<dir>/state.json` (mode 0600: it holds the DSN of the PostgreSQL it started). `down` stops exactly
/// what `started*` says and removes the file, so a second `down` finds nothing to do.
public struct ClusterState: Codable, Sendable, Equatable {
    public var rayAddress: String
    /// The address `up --listen` put the head and PostgreSQL on (nil: loopback, before it was an option).
    public var listen: String?
    /// Set when `up` started the local Ray cluster (scripts/ray-local.sh with this folder and port).
    public var rayStartedDir: String?
    public var rayPort: Int?
    public var rayTokenPath: String?
    public var dsn: String
    /// Set when `up` started the local PostgreSQL (scripts/pg.sh with this folder and port).
    public var pgStartedDir: String?
    public var pgPort: Int?
    public var backend: String
    public var created: String
    /// Set once `up` asked Ray for vLLM replicas (detached actors named dlgforge-vllm-<i>).
    public var vllmManaged: Bool?
    /// The replicas' OpenAI base URLs (their key is in <dir>/vllm_key, mode 0600, never printed).
    public var vllmEndpoints: [String]?

    public init(rayAddress: String, dsn: String, backend: String) {
        self.rayAddress = rayAddress
        self.dsn = dsn
        self.backend = backend
        created = ISO8601DateFormatter().string(from: Date())
    }

    public static func path(dir: String) -> String { (dir as NSString).appendingPathComponent("state.json") }

    public static func load(dir: String) throws(DlgError) -> ClusterState? {
        let p = path(dir: dir)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        do {
            return try JSONDecoder().decode(ClusterState.self, from: Data(contentsOf: URL(fileURLWithPath: p)))
        } catch {
            throw DlgError.data("\(p): not a cluster state file (\(error.localizedDescription)); remove it after stopping what it lists")
        }
    }

    public func save(dir: String) throws(DlgError) {
        try Files.makeDirectory(dir)
        let p = Self.path(dir: dir)
        do {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try enc.encode(self)
            try Files.writeSecret(String(decoding: data, as: UTF8.self), to: p)
        } catch let e as DlgError {
            throw e
        } catch {
            throw DlgError.io("\(p): cannot write the cluster state: \(error.localizedDescription)")
        }
    }

    public static func remove(dir: String) { try? FileManager.default.removeItem(atPath: path(dir: dir)) }

    /// The environment a Ray client of this cluster needs (never printed: the token stays in its file).
    public var rayEnvironment: [String: String] {
        var env = ["RAY_ADDRESS": rayAddress]
        if let rayTokenPath { env["RAY_AUTH_MODE"] = "token"; env["RAY_AUTH_TOKEN_PATH"] = rayTokenPath }
        if rayAddress.hasPrefix("127.") || rayAddress.hasPrefix("localhost:") {
            // Else ray.init rewrites a loopback address to the machine's other one (docs/decisions.md).
            env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
        }
        return env
    }
}
