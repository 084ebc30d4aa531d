import Foundation

/// The test Ray cluster (scripts/services/ray.sh: a head and 2 worker nodes on 127.0.0.1), found
/// through DLG_RAY_ADDRESS; the Ray client variables it printed are handed to dlg-cluster.
public enum RayTestCluster {
    public static let address: String? = {
        let a = ProcessInfo.processInfo.environment["DLG_RAY_ADDRESS"] ?? ""
        return a.isEmpty ? nil : a
    }()
    public static var available: Bool { address != nil }
    public static let howTo = "DLG_RAY_ADDRESS is not set: run `eval \"$(scripts/services/ray.sh up)\"` first (or make test; it installs Ray into .venv once)"

    /// RAY_ADDRESS and the token and loopback variables of the test cluster.
    public static var env: [String: String] {
        var out: [String: String] = [:]
        let parent = ProcessInfo.processInfo.environment
        if let address { out["RAY_ADDRESS"] = address }
        for k in ["RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] {
            if let v = parent[k] { out[k] = v }
        }
        return out
    }
}
