// dlg-cluster: Ray and PostgreSQL up and down, a run as sharded Ray tasks, worker hosts joining.
// The root command of `dlg-cluster` (or `dlg cluster`), run by the multicall binary Sources/dlg.

import ArgumentParser
import DlgCLI
import DlgCore
import Foundation

/// Where this tool's helpers are: a checkout's scripts/ (the first folder above the tool's with
/// scripts/cluster_driver.py), else an install's <prefix>/share/dlgforge.
struct ClusterScripts: ParsableArguments {
    @Option(help: "The folder of cluster_driver.py, ray.sh and pg.sh (default: a checkout's scripts/ above this tool, else <prefix>/share/dlgforge of the install).")
    var scripts: String?

    @Option(help: "A Python with Ray 2.60 to drive the cluster (default: DLG_RAY_PYTHON, the checkout's .venv, else python3 on PATH).")
    var python: String?

    static var toolsDir: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path }

    func folder() throws -> String {
        if let scripts { return scripts }
        var dir = URL(fileURLWithPath: Self.toolsDir)
        while dir.path != "/" {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("scripts")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("cluster_driver.py").path) { return candidate.path }
        }
        let installed = URL(fileURLWithPath: Self.toolsDir).deletingLastPathComponent().appendingPathComponent("share/dlgforge")
        guard FileManager.default.fileExists(atPath: installed.appendingPathComponent("cluster_driver.py").path) else {
            throw DlgError(.usage, "no dlgforge checkout (scripts/cluster_driver.py) above \(Self.toolsDir), nor an install's \(installed.path); give --scripts")
        }
        return installed.path
    }
}

/// Options every subcommand of the head shares: the config, where the cluster's state lives.
struct ClusterOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .customLong("config")], help: "The dlgforge config file (YAML).")
    var config: String = "config.yaml"

    @Option(help: "Folder of the cluster's state file and of the Ray and PostgreSQL it starts (default: .dlgforge/cluster under the current folder, or DLG_CLUSTER_DIR).")
    var stateDir: String?

    @OptionGroup var scripts: ClusterScripts

    func control() throws -> ClusterControl {
        let settings = try Settings.load(path: config)
        let cwd = FileManager.default.currentDirectoryPath
        let dir = stateDir ?? ProcessInfo.processInfo.environment["DLG_CLUSTER_DIR"] ?? (cwd as NSString).appendingPathComponent(".dlgforge/cluster")
        var control = try ClusterControl(settings: settings, configPath: config, scriptsDir: try scripts.folder(), stateDir: dir,
                                         toolsDir: ClusterScripts.toolsDir)
        control.rayPython = scripts.python
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

public struct DlgCluster: AsyncParsableCommand {
    public init() {}

    public static let configuration = CommandConfiguration(
        commandName: "dlg-cluster",
        abstract: "Bring Ray and PostgreSQL up, join worker hosts, run a run as sharded Ray tasks, and stop what was started.",
        discussion: """
        On the head host: up starts Ray per ray.address (auto with ray.auto_start_local: a head on --listen, \
        127.0.0.1 by default, with 2 local worker nodes on loopback) and PostgreSQL per store.postgres.dsn (none: a \
        local server on --listen with a password made for it); writes the state file. run splits the run into \
        run.distributed.shards shards (default two per Ray node with CPUs), each a Ray task running dlg-run \
        --shard I/N on whichever host Ray picks, with the tools, the resolved config and the knowledge index \
        shipped with the job, retried by Ray; then dlg-export --run-id. status lists each host, its CPUs and \
        shards, and the ports a firewall must open. down stops exactly what up started, and the nodes hosts \
        joined; safe twice. On a worker host (an install, no checkout): join --address HEAD:PORT starts a Ray \
        node there; leave stops it.
        """,
        subcommands: [Up.self, Status.self, Run.self, Down.self, Join.self, Leave.self, Mode.self])

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start (or attach to) Ray and PostgreSQL; write the state file.")
        @OptionGroup var options: ClusterOptions
        @Flag(help: "When a cluster is already up (its state file exists), say so and succeed (make run uses it).")
        var keepExisting = false
        @Option(help: "The address the Ray head, the PostgreSQL it starts and the endpoints it manages listen on (default 127.0.0.1; give a private address the worker hosts reach, never a public one).")
        var listen = "127.0.0.1"
        @Option(help: "CPUs the head offers to shards (default 2; 0 keeps every shard on the worker hosts).")
        var headCpus: Int?
        @Option(help: "Extra Ray nodes started on this host (default 2 on loopback, 0 otherwise).")
        var localWorkers: Int?

        func validate() throws {
            if let c = headCpus, c < 0 { throw ValidationError("\"--head-cpus\" must be 0 or more") }
            if let w = localWorkers, w < 0 { throw ValidationError("\"--local-workers\" must be 0 or more") }
            if listen == "0.0.0.0" || listen == "::" { throw ValidationError("\"--listen\" takes one address the worker hosts reach, not every address (\(listen))") }
        }

        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                var control = try options.control()
                control.listen = listen
                control.headCPUs = headCpus
                control.localRayWorkers = localWorkers
                if keepExisting, try ClusterState.load(dir: control.stateDir) != nil {
                    try say(["already up (\(ClusterState.path(dir: control.stateDir)))"])
                    return 0
                }
                let c = control
                try say(try await OwnThread.runThrowing { () throws(DlgError) in try c.up() })
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
        static let configuration = CommandConfiguration(abstract: "Each host with its CPUs and shards, each service healthy or not, and the ports a firewall must open.")
        @OptionGroup var options: ClusterOptions
        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                let c = try options.control()
                try say(try await OwnThread.runThrowing { () throws(DlgError) in try c.status() })
                return 0
            }
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop exactly what up started and the nodes hosts joined; name the hosts it could not reach (safe to run twice).")
        @OptionGroup var options: ClusterOptions
        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                let c = try options.control()
                try say(try await OwnThread.runThrowing { () throws(DlgError) in try c.down() })
                return 0
            }
        }
    }

    struct Join: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "On a worker host: check it against the tools the head ships, then start a Ray node that joins the head.",
            discussion: "Needs a Python with Ray 2.60 and the head's Ray token (a 0600 file, --token-file or RAY_AUTH_TOKEN_PATH, or RAY_AUTH_TOKEN); no checkout, no config.")
        @Option(help: "The Ray head, HOST:PORT, as dlg-cluster up printed it.")
        var address: String
        @Option(help: "A file holding the head's Ray token, readable by its owner only (or RAY_AUTH_TOKEN_PATH / RAY_AUTH_TOKEN).")
        var tokenFile: String?
        @Option(help: "This host's address the others reach (default: the one packets to the head leave from).")
        var nodeIp: String?
        @Option(help: "CPUs this host offers to shards (default: all of them).")
        var cpus: Int?
        @Option(help: "Folder of this host's join state and shipped-package cache (default: ~/.dlgforge/worker).")
        var stateDir: String?
        @OptionGroup var scripts: ClusterScripts

        func validate() throws {
            if let c = cpus, c < 1 { throw ValidationError("\"--cpus\" must be at least 1") }
        }

        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                var join = ClusterJoin(headAddress: address, stateDir: stateDir ?? Leave.defaultStateDir,
                                       scriptsDir: (try? scripts.folder()) ?? "")
                join.tokenFile = tokenFile
                join.nodeIP = nodeIp
                join.cpus = cpus
                join.python = scripts.python
                let j = join
                try say(try await OwnThread.runThrowing { () throws(DlgError) in try j.join() })
                return 0
            }
        }
    }

    struct Leave: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "On a worker host: stop the Ray node join started and drop its cached packages.")
        @Option(help: "The folder join used (default: ~/.dlgforge/worker).")
        var stateDir: String?

        static var defaultStateDir: String {
            ((ProcessInfo.processInfo.environment["HOME"] ?? "/root") as NSString).appendingPathComponent(".dlgforge/worker")
        }

        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                let dir = stateDir ?? Self.defaultStateDir
                try say(try await OwnThread.runThrowing { () throws(DlgError) in try ClusterJoin.leave(stateDir: dir) })
                return 0
            }
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the config's run as Ray tasks, one per shard, then build the dataset from the database.",
            discussion: "stdout: one JSON line: the run id, each shard's host, node id, seconds and the bytes of shipped packages its host fetched, what was shipped, and dlg-export's summary.")
        @OptionGroup var options: ClusterOptions
        @OptionGroup var runID: RunIDOptions
        @Option(help: "Shards (default: run.distributed.shards, else two per Ray node with CPUs).")
        var shards: Int?

        func validate() throws {
            if let s = shards, s < 1 { throw ValidationError("\"--shards\" must be at least 1") }
        }

        func run() async throws {
            try await ToolMain.run("dlg-cluster") {
                let control = try options.control()
                let id = runID.chosen(control.settings)
                StandardError.write("dlg-cluster: run \(id): starting the shards")
                let result = try await control.run(runID: id, shards: shards)
                for note in result.notes { StandardError.write("dlg-cluster: \(note)") }
                let out = FDWriter()
                try out.write(Self.summary(result).serialized() + "\n")
                try out.flush()
                return 0
            }
        }

        static func summary(_ result: ClusterControl.RunResult) -> JSON {
            let shards: [JSON] = result.shards.map {
                .object(["shard": .int($0.shard), "host": .string($0.host), "node_id": .string($0.nodeID),
                         "seconds": .double($0.seconds), "fetched_bytes": .int($0.fetchedBytes),
                         "fetch_seconds": .double($0.fetchSeconds)])
            }
            let s = result.shipping
            var summary: JSONObject = ["run_id": .string(result.runID), "shards": .array(shards),
                                       "nodes": .int(Set(result.shards.map(\.nodeID)).count),
                                       "shipping": .object(["tools_bytes": .int(s.toolsBytes), "project_bytes": .int(s.projectBytes),
                                                            "pack_seconds": .double(s.packSeconds), "put_seconds": .double(s.putSeconds),
                                                            "tools_built": .bool(s.toolsBuilt)])]
            if let export = try? JSONCodec.parse(result.exportSummary) { summary["export"] = export }
            return .object(summary)
        }
    }
}
