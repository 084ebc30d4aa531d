import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The questions dlg-dedup rejected, one JSON line each, in `run_state/<run_id>/dedup_rejections.jsonl`
/// under `saving.output_dir` (docs/metrics.md, "The rejections file"): what `metrics.json` splits its
/// duplicate shares by, and the near pairs the report shows. Several dlg-dedup processes append to
/// the same file: each batch's lines go in one `write` on an `O_APPEND` descriptor, so lines never
/// interleave. A record decided twice (a run resumed after a kill) may add its line twice: readers
/// keep one line per (conversation_id, turn_index, attempt).
public enum DedupRejections {
    public static let fileName = RunLayout.dedupRejectionsFile

    /// Why a question was rejected: the line's `kind`.
    public enum Kind: String, Sendable, CaseIterable {
        /// The same normalized question was accepted before.
        case exact = "exact_duplicate"
        /// An accepted question's shingle set is at least `coverage.near_dedup_threshold` similar.
        case near = "near_duplicate"
        /// An accepted question's embedding is at least `coverage.semantic_dedup_threshold` close.
        case semantic = "semantic_duplicate"
    }

    /// The file of run `runID` under `outputDir`; nil when the id cannot name a folder (`SafeID`).
    public static func path(outputDir: String, runID: String) -> String? {
        try? RunLayout(outputDir: outputDir, logsDir: "").dedupRejections(runID)
    }

    /// One rejection as its line (without the newline).
    public static func line(runID: String, conversationID: String, turnIndex: Int, attempt: Int, language: String,
                            kind: Kind, question: String, matchedHash: String, matchedQuestion: String?,
                            similarity: Double) -> JSON {
        .obj([
            "timestamp": .string(Timestamps.isoZ()), "run_id": .string(runID),
            "conversation_id": .string(conversationID), "turn_index": .int(turnIndex), "attempt": .int(attempt),
            "language": .string(language), "kind": .string(kind.rawValue),
            "similarity": .double((similarity * 1000).rounded() / 1000),
            "question": .string(question), "matched_question_hash": .string(matchedHash),
            "matched_question": matchedQuestion.map(JSON.string) ?? .null,
        ])
    }

    /// The kinds of a run's rejections by (conversation_id, turn_index, attempt); empty when the
    /// run has no file (a dataset made before the file existed, or a run without rejections).
    public static func kinds(outputDir: String, runID: String) -> [String: Kind] {
        guard let path = path(outputDir: outputDir, runID: runID), let bytes = try? Files.read(path) else { return [:] }
        var out: [String: Kind] = [:]
        for line in bytes.split(separator: 0x0A) {
            guard let v = try? JSONCodec.parse(Array(line)), let kind = v["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
                  let cid = v["conversation_id"]?.stringValue, let turn = v["turn_index"]?.intValue,
                  let attempt = v["attempt"]?.intValue else { continue }
            out[key(cid, turn, attempt)] = kind
        }
        return out
    }

    static func key(_ conversationID: String, _ turnIndex: Int, _ attempt: Int) -> String {
        "\(conversationID)#\(turnIndex)#\(attempt)"
    }
}

/// Appends rejection lines to each run's `dedup_rejections.jsonl` (the folder made when missing).
public final class DedupRejectionLog {
    let outputDir: String
    private var descriptors: [String: Int32] = [:]

    public init(outputDir: String) { self.outputDir = outputDir }

    deinit { for fd in descriptors.values { close(fd) } }

    /// Writes the lines of one batch, grouped by run, one `write` per run. A run id that cannot
    /// name a folder is skipped (its record was reported by the stage that read it).
    public func append(_ lines: [(runID: String, line: JSON)]) throws(DlgError) {
        var byRun: [String: [UInt8]] = [:]
        for (run, line) in lines {
            line.write(into: &byRun[run, default: []])
            byRun[run]!.append(0x0A)
        }
        for (run, bytes) in byRun {
            guard let fd = try descriptor(run) else { continue }
            let redacted = Redact.values(bytes)
            var written = 0
            while written < redacted.count {
                let n = redacted.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 { if errno == EINTR { continue }; throw DlgError.io("\(outputDir): cannot write \(DedupRejections.fileName)") }
                written += n
            }
        }
    }

    private func descriptor(_ runID: String) throws(DlgError) -> Int32? {
        if let fd = descriptors[runID] { return fd }
        guard let path = DedupRejections.path(outputDir: outputDir, runID: runID) else { return nil }
        try Files.makeDirectory((path as NSString).deletingLastPathComponent)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DlgError.io("\(path): cannot open: \(String(cString: strerror(errno)))") }
        descriptors[runID] = fd
        return fd
    }
}
