// dlg-export hub: the Hugging Face export folder, and with --push its upload.

import ArgumentParser
import DlgCLI
import DlgCore

struct ExportHub: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Prepare the Hugging Face export folder from the dataset file in saving.output_dir; upload it with --push.",
        discussion: """
        Reads the dataset file already written (no record files) and writes saving.hf_push.export_dir under \
        saving.output_dir: the ShareGPT file, a dataset card, and with saving.hf_push.generate_stats / \
        generate_plots the stats JSON and SVG charts. Uploads nothing unless --push. stdout: a one-line JSON \
        summary (with "pushed" after an upload).
        """)

    @OptionGroup var config: ConfigOptions

    @Flag(help: "Upload the export folder to saving.hf_push.repo_id on the Hugging Face Hub in one commit (token: HF_TOKEN, HUGGINGFACE_HUB_TOKEN or huggingface-cli's; HF_ENDPOINT).")
    var push = false

    @Flag(inversion: .prefixedNo, help: "Copy run_state/ into the export (default: saving.hf_push.include_run_state).")
    var includeRunState: Bool?

    func run() async throws {
        try await ToolMain.run("dlg-export") {
            try await Self.prepare(try config.settings(), includeRunState: includeRunState, push: push)
        }
    }

    /// The folder prepared (and uploaded with `push`); its summary on stdout.
    static func prepare(_ settings: Settings, includeRunState: Bool?, push: Bool) async throws -> Int32 {
        let done = try HubExport.prepare(settings: settings, includeRunState: includeRunState)
        var line: JSONObject = [
            "export_dir": .string(done.exportDir), "source_file": .string(done.sourceFile), "records": .int(done.records),
            "stats_file": done.statsFile.map { .string($0) } ?? .null, "plots": JSON(done.plots),
        ]
        if push {
            let pushed = try await HubUpload.push(folder: done.exportDir, to: try HubUpload.target(settings: settings))
            line["pushed"] = .obj(["repo_id": .string(pushed.repoID), "created": .bool(pushed.created),
                                   "files": .int(pushed.files), "lfs_files": .int(pushed.lfsFiles),
                                   "lfs_uploaded": .int(pushed.lfsUploaded), "bytes": .int(pushed.bytes),
                                   "commit_url": .string(pushed.commitURL)])
        }
        try printSummary(.object(line))
        return 0
    }
}
