// JSONL in and out of a stage through real file descriptors, as a tool's stdin and stdout.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A work folder with `input.jsonl` written from `lines`, and an `output.jsonl` to run a stage into.
final class StageFiles {
    let work: WorkDir
    let inputFD: Int32
    let outputFD: Int32
    let input: LineReader
    let output: FDWriter
    var outputPath: String { work.path + "/output.jsonl" }

    init(_ lines: [String], label: String = "stage") throws {
        work = try WorkDir(copyExamples: false, label: label)
        try work.write("input.jsonl", lines.joined(separator: "\n") + "\n")
        inputFD = open(work.path + "/input.jsonl", O_RDONLY | O_CLOEXEC)
        outputFD = open(work.path + "/output.jsonl", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard inputFD >= 0, outputFD >= 0 else { throw HarnessError("cannot open the stage files") }
        input = LineReader(fd: inputFD, name: "input.jsonl")
        output = FDWriter(fd: outputFD)
    }

    deinit {
        close(inputFD)
        close(outputFD)
    }

    /// The output lines as written.
    func outputLines() throws -> [String] {
        try String(contentsOfFile: outputPath, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    /// The output records' conversation ids, in output order.
    func outputIDs() throws -> [String] {
        try outputLines().map { Record.id(try #require(try JSONCodec.parse($0).objectValue)) }
    }
}

/// A dialogue record line with id `id` and extra fields.
func recordLine(_ id: String, _ extra: JSONObject = [:]) -> String {
    var r: JSONObject = ["conversation_id": .string(id), "status": "active", "turns": [], "target_turns": 1]
    for (k, v) in extra.pairs { r[k] = v }
    return JSON.object(r).serialized()
}
