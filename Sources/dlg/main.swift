// dlg: the seven tools in one binary. Run through a link named `dlg-gen` (dlg-dedup, ...) it is that tool;
// run as `dlg`, its first argument names the tool: `dlg gen ...`. One binary instead of seven keeps the
// statically linked Swift runtime and Foundation on disk once (docs/decisions.md, "One multicall binary").

import ArgumentParser
import DlgCLI
import DlgCore
import DlgTools
#if canImport(Glibc)
import Glibc
#endif

/// The short help of `dlg` itself: the tools and where their own help is.
func usage() -> String {
    let width = (DlgTool.all.map(\.name.count).max() ?? 0) + 2
    var text = """
        USAGE: dlg <tool> [<options>]
           or: dlg-<tool> [<options>]   (dlg-gen, dlg-dedup, ...: links to dlg)

        TOOLS:

        """
    for tool in DlgTool.all {
        text += "  " + tool.name + String(repeating: " ", count: width - tool.name.count) + tool.abstract + "\n"
    }
    text += """

        OPTIONS:
          --version         Show the version.
          -h, --help        Show this help.

        See 'dlg <tool> --help' for a tool's options (its usage line says dlg-<tool>).

        """
    return text
}

func fail(_ message: String, usage showUsage: Bool = false) -> Never {
    StandardError.write("dlg: error: \(message)" + (showUsage ? "\n\n" + usage() : ""))
    exit(DlgError.Code.usage.rawValue)
}

let argv = CommandLine.arguments
let invokedAs = argv.first.map { String($0.split(separator: "/").last ?? "") } ?? "dlg"
var tool: DlgTool?
var arguments = Array(argv.dropFirst())

if invokedAs.hasPrefix("dlg-"), let named = DlgTool.named(invokedAs) {
    tool = named
} else {
    guard let first = arguments.first else { fail("no tool given", usage: true) }
    switch first {
    case "-h", "--help":
        print(usage(), terminator: "")
        exit(0)
    case "help" where arguments.count == 1:
        print(usage(), terminator: "")
        exit(0)
    case "help":
        // `dlg help gen`: the tool's own help.
        guard let named = DlgTool.named(arguments[1]) else { fail("unknown tool \"\(arguments[1])\" (dlg --help lists them)") }
        tool = named
        arguments = ["--help"]
    case "--version":
        print(DlgVersion.version)
        exit(0)
    default:
        guard let named = DlgTool.named(first) else {
            fail("unknown tool \"\(first)\" (the tools: \(DlgTool.all.map(\.name).joined(separator: ", ")); dlg --help)")
        }
        tool = named
        arguments.removeFirst()
    }
}

/// ArgumentParser's async entry point, as `@main` on the command calls it: parse errors, --help,
/// --generate-completion-script, ValidationError (64) and ExitCode are exactly those of the tool alone.
/// Generic, so that the async `main(_:)` of AsyncParsableCommand is the one called, not the synchronous
/// one of ParsableCommand (which refuses an async command).
func runAsync<Command: AsyncParsableCommand>(_: Command.Type, _ arguments: [String]) async {
    await Command.main(arguments)
}

await runAsync(tool!.command, arguments)
