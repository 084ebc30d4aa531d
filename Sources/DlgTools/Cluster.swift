// dlg-cluster: Ray and PostgreSQL up and down, a run as sharded Ray tasks.
// The root command of `dlg-cluster` (or `dlg cluster`), run by the multicall binary Sources/dlg.

import ArgumentParser
import DlgCLI
import DlgCore
import Foundation

/// Options every subcommand shares: the config, where the cluster's state lives, where the repo is.
struct ClusterOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong("config")], help: "The dlgforge config file (YAML).")
    var config: String = "config.yaml"

    @Option(help: "Folder of the cluster's state file and of the Ray and PostgreSQL it starts (default: .dlgforge/cluster under the current folder, or DLG_CLUSTER_DIR).")
    var stateDir: String?

    @Option(help: "The dlgforge checkout holding scripts/ and .venv/ (default: the first folder above this tool's that has scripts/cluster_driver.py; else, installed, the Ray driver in <prefix>/share/dlgforge).")
    var root: String?

    var toolsDir: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path }

    func control() throws -> ClusterControl {
        let settings = try Settings.load(path: config)
        let cwd = FileManager.default.currentDirectoryPath
        let dir = stateDir ?? ProcessInfo.processInfo.environment["DLG_CLUSTER_DIR"] ?? (cwd as NSString).appendingPathComponent(".dlgforge/cluster")
        // The first folder above this tool's holding scripts/cluster_driver.py (.build/<triple>/debug).
        var repo = root ?? ""
        var driver: String?
        if repo.isEmpty {
            var dir = URL(fileURLWithPath: toolsDir)
            while dir.path != "/" {
                dir = dir.deletingLastPathComponent()
                if FileManager.default.fileExists(atPath: dir.appendingPathComponent("scripts/cluster_driver.py").path) { repo = dir.path; break }
            }
            if repo.isEmpty {
                // An installed dlg-cluster (make install): the driver in <prefix>/share/dlgforge.
                let prefix = URL(fileURLWithPath: toolsDir).deletingLastPathComponent()
                let installed = prefix.appendingPathComponent("share/dlgforge/cluster_driver.py").path
                guard FileManager.default.fileExists(atPath: installed) else {
                    throw DlgError(.usage, "no dlgforge checkout (scripts/cluster_driver.py) above \(toolsDir), nor an installed \(installed); give --root")
                }
                repo = prefix.path
                driver = installed
            }
        }
        var control = try ClusterControl(settings: settings, configPath: config, root: repo, stateDir: dir, toolsDir: toolsDir)
        control.driverScript = driver
        let env = ProcessInfo.processInfo.environment
        for (name, port) in [("DLG_CLUSTER_RAY_PORT", \ClusterControl.localRayPort), ("DLG_CLUSTER_PG_PORT", \ClusterControl.localPGPort)] {
            guard let text = env[name] else { continue }
            guard let p = Int(text), (1...65535).contains(p) else {
                throw DlgError(.config, "\(name)=\(text): not a TCP port (1-65535)")
            }
            control[keyPath: port] = p
        }
        return control
    }
}

func say(_ lines: [String]) throws {
    let out = FDWriter()
    for l in lines { try out.write("dlg-cluster: \(l)\n") }
    try out.flush()
}

/// `dlg-cluster`: Ray and PostgreSQL up and down, and a run as sharded Ray tasks.
public struct DlgCluster: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-cluster",
        abstract: "Bring Ray and PostgreSQL up with one command, run a run as sharded Ray tasks, and stop what was started.",
        discussion: """
        up: Ray per ray.address (auto with ray.auto_start_local: a head and 2 worker nodes on 127.0.0.1), \
        PostgreSQL per store.postgres.dsn (none: a local server as make pg-up); writes the state file. \
        run: the run split into run.distributed.shards shards (default two per Ray node), each a Ray task \
        running dlg-run --shard I/N against the database, retried by Ray; then dlg-export --run-id. \
        status: each component, healthy or not. down: stops exactly what up started; safe twice.
        """,
        subcommands: [Up.self, Status.self, Run.self, Down.self, Mode.self])

    public init() {}

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start (or attach to) Ray and PostgreSQL; write the state file.")
        @OptionGroup var options: ClusterOptions
        @Flag(help: "When a cluster is already up (its state file exists), say so and succeed (make run uses it).")
        var keepExisting = false
        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                let control = try options.control()
                if keepExisting, try ClusterState.load(dir: control.stateDir) != nil {
                    try say(["already up (\(ClusterState.path(dir: control.stateDir)))"])
                    return 0
                }
                try say(try control.up())
                return 0
            }
        }
    }

    struct Mode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print distributed when the config sets run.distributed.enabled: true, else local (what make run asks).")
        @OptionGroup var options: ClusterOptions
        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                let settings = try Settings.load(path: options.config)
                let out = FDWriter()
                try out.write(settings.run.distributedEnabled ? "distributed\n" : "local\n")
                try out.flush()
                return 0
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each component, healthy or not, with its address.")
        @OptionGroup var options: ClusterOptions
        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                try say(try options.control().status())
                return 0
            }
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop exactly what up started (safe to run twice).")
        @OptionGroup var options: ClusterOptions
        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                try say(try options.control().down())
                return 0
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the config's run as Ray tasks, one per shard, then build the dataset from the database.",
            discussion: "stdout: one JSON line: the run id, each shard's node id and seconds, and dlg-export's summary.")
        @OptionGroup var options: ClusterOptions
        @Option(help: "Run id to start or resume (default: run.resume_run_id, run.run_id, or a new one).")
        var runId: String?
        @Option(help: "Shards (default: run.distributed.shards, else two per Ray node alive).")
        var shards: Int?

        func validate() throws {
            if let s = shards, s < 1 { throw ValidationError("\"--shards\" must be at least 1") }
            if let id = runId, let problem = SafeID.problem(id) { throw ValidationError("\"--run-id\" \(problem)") }
        }

        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                let control = try options.control()
                let id = runId ?? RunIDs.configured(resumeRunID: control.settings.run.resumeRunID, runID: control.settings.run.runID) ?? RunIDs.random()
                StandardError.write("dlg-cluster: run \(id): starting the shards")
                let result = try control.run(runID: id, shards: shards)
                for note in result.notes { StandardError.write("dlg-cluster: \(note)") }
                let shardsJSON: [JSON] = result.shards.map {
                    .object(["shard": .int($0.shard), "node_id": .string($0.nodeID), "seconds": .double($0.seconds)])
                }
                var summary: JSONObject = ["run_id": .string(result.runID), "shards": .array(shardsJSON),
                                           "nodes": .int(Set(result.shards.map(\.nodeID)).count)]
                if let export = try? JSONCodec.parse(result.exportSummary) { summary["export"] = export }
                let out = FDWriter()
                try out.write(JSON.object(summary).serialized() + "\n")
                try out.flush()
                return 0
            }
        }
    }
}
