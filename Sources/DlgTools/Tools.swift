// The seven tools of the multicall binary `dlg`, by the name each answers to.

import ArgumentParser

/// One tool `dlg` can run: `dlg-<name>` (a link to `dlg`) or `dlg <name>`.
public struct DlgTool: Sendable {
    /// The name after `dlg-`: `gen`, `dedup`, ...
    public let name: String
    /// Its root command.
    public let command: any AsyncParsableCommand.Type

    /// The name the tool is installed and linked under: `dlg-gen`, ...
    public var linkName: String { "dlg-" + name }
    /// The one-line summary of its `--help`.
    public var abstract: String { command.configuration.abstract }

    /// Every tool, in the order of a run's pipe and then the rest.
    public static let all: [DlgTool] = [
        DlgTool(name: "gen", command: DlgGen.self),
        DlgTool(name: "dedup", command: DlgDedup.self),
        DlgTool(name: "respond", command: DlgRespond.self),
        DlgTool(name: "judge", command: DlgJudge.self),
        DlgTool(name: "export", command: DlgExport.self),
        DlgTool(name: "run", command: DlgRun.self),
        DlgTool(name: "cluster", command: DlgCluster.self),
    ]

    /// The tool `word` names: `gen` or `dlg-gen`; nil for any other word.
    public static func named(_ word: String) -> DlgTool? {
        let name = word.hasPrefix("dlg-") ? String(word.dropFirst(4)) : word
        return all.first { $0.name == name }
    }
}
