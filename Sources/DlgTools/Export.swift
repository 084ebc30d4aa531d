// dlg-export: the dataset files, the Hub folder and its upload, the run report, the dataset's metrics.
// The root command of `dlg-export` (or `dlg export`), run by the multicall binary Sources/dlg; each
// subcommand is a file of Export/.

import ArgumentParser
import DlgCore

/// `dlg-export`: what is made from finished dialogues, one subcommand each (`dataset` when none is named).
public struct DlgExport: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dlg-export",
        abstract: "Write the dataset files from finished dialogue records; prepare and upload the Hub folder, the run report, the metrics.",
        discussion: """
        dataset (the default: dlg-export FILE ... is dlg-export dataset FILE ...) writes the dataset files under \
        saving.output_dir; hub prepares the Hugging Face export folder and with --push uploads it; report writes \
        report.html; metrics writes metrics.json for a finished run. Each prints a one-line JSON summary on stdout. \
        Name the subcommand first: dlg-export report -c config.yaml. The flags of before still work, as \
        aliases: dlg-export --hub [--push] [--include-run-state] is dlg-export hub, dlg-export --report is \
        dlg-export report.
        """,
        subcommands: [ExportDataset.self, ExportHub.self, ExportReport.self, ExportMetrics.self],
        defaultSubcommand: ExportDataset.self)

    public init() {}

    /// The subcommands' names, which a record file of `dataset` cannot be called without a path.
    static var subcommandNames: [String] { configuration.subcommands.compactMap { $0.configuration.commandName } }
}

/// Writes one JSON line on stdout: every subcommand's summary.
func printSummary(_ line: JSON) throws {
    let out = FDWriter()
    try out.write(line.serialized() + "\n")
    try out.flush()
}
