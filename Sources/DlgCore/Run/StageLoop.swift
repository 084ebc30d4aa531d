import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `dlg-gen | dlg-dedup | dlg-respond | dlg-judge` started once, as long-lived processes, with both
/// ends held by dlg-run: it writes dialogues into the first stage and reads them back from the last,
/// so a dialogue goes round the loop once per turn (or per regenerated question) without waiting for
/// any other dialogue and without a process start per pass.
/// `inputClosed` and the input handle are touched only on the serial `writes` queue.
final class StageLoop: @unchecked Sendable {
    let names: [String]
    private let processes: [Subprocess]
    private let input: FileHandle
    private let output: FileHandle
    private let writes = DispatchQueue(label: "dlg.run.loop-input")
    private var inputClosed = false

    /// `extraEnvironment`: variables for the stages on top of this process's (the limits broker's socket).
    init(stages: [[String]], extraEnvironment: [String: String] = [:]) throws(DlgError) {
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in extraEnvironment { environment[k] = v }
        // dlg-run draws its own progress line; four stages drawing theirs over it would garble it.
        environment["DLG_PROGRESS"] = "0"
        let first = Pipe()
        let last = Pipe()
        var processes: [Subprocess] = []
        var previous: Any = first
        for (i, args) in stages.enumerated() {
            let next = i == stages.count - 1 ? last : Pipe()
            processes.append(Subprocess(args, environment: environment, standardInput: previous,
                                        standardOutput: next, standardError: FileHandle.standardError))
            previous = next
        }
        names = processes.map(\.name)
        self.processes = processes
        input = first.fileHandleForWriting
        output = last.fileHandleForReading
        do throws(DlgError) {
            for p in processes { try p.start() }
        } catch {
            for p in processes { p.terminate() }
            throw DlgError.io("cannot start \(names.joined(separator: " | ")): \(error.message)")
        }
        // Only the stages keep the inner pipe ends: EOF then travels down the loop when dlg-run closes
        // the input.
        try? first.fileHandleForReading.close()
        try? last.fileHandleForWriting.close()
        for p in processes.dropLast() { try? (p.standardOutput as? Pipe)?.fileHandleForWriting.close() }
        for p in processes.dropFirst() { try? (p.standardInput as? Pipe)?.fileHandleForReading.close() }
    }

    var outputDescriptor: Int32 { output.fileDescriptor }

    /// Queues lines for the first stage; a blocking write never holds up the reading side.
    func send(_ lines: [[UInt8]]) {
        guard !lines.isEmpty else { return }
        let fd = input.fileDescriptor
        writes.async { [self] in
            guard !inputClosed else { return }
            for line in lines {
                var offset = 0
                while offset < line.count {
                    let n = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                    if n < 0 && errno == EINTR { continue }
                    // A stage that stopped (its status says why) closed the loop; the journal has the record.
                    if n <= 0 { return }
                    offset += n
                }
            }
        }
    }

    /// No more dialogues: the stages finish what they hold and exit one after the other.
    func closeInput() {
        writes.async { [self] in
            guard !inputClosed else { return }
            inputClosed = true
            try? input.close()
        }
    }

    /// Stops every stage (an error in dlg-run); what they held is in the journal already.
    func terminate() {
        closeInput()
        for p in processes { p.terminate() }
    }

    /// Waits for every stage to exit; their statuses in loop order.
    func wait() -> [Int32] {
        let statuses = processes.map { $0.wait() }
        writes.sync {}
        return statuses
    }
}
