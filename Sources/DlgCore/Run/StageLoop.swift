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
        // pipes[i] feeds stage i; the last one is read by dlg-run. Every end is close-on-exec, so a stage
        // gets only its own two (dup2'ed onto its stdin and stdout) and none of its neighbours'.
        var pipes: [(read: Int32, write: Int32)] = []
        do throws(DlgError) {
            for _ in 0...stages.count { pipes.append(try Subprocess.makePipe()) }
        } catch {
            for p in pipes { close(p.read); close(p.write) }
            throw DlgError.io("cannot start \(stages.map { ($0[0] as NSString).lastPathComponent }.joined(separator: " | ")): \(error.message)")
        }
        let processes = stages.enumerated().map { i, args in
            Subprocess(args, environment: environment, standardInput: .fd(pipes[i].read), standardOutput: .fd(pipes[i + 1].write))
        }
        names = processes.map(\.name)
        self.processes = processes
        var failure: DlgError?
        for p in processes where failure == nil {
            do throws(DlgError) { try p.start() } catch { failure = error }
        }
        // Only the stages keep the inner pipe ends: EOF then travels down the loop when dlg-run closes
        // the input, and a stage that exits closes its neighbours' pipes.
        for (i, p) in pipes.enumerated() {
            if i != pipes.count - 1 { close(p.read) }
            if i != 0 { close(p.write) }
        }
        input = FileHandle(fileDescriptor: pipes[0].write, closeOnDealloc: true)
        output = FileHandle(fileDescriptor: pipes[pipes.count - 1].read, closeOnDealloc: true)
        if let failure {
            // The stages already started end on SIGTERM (or on EOF) and are reaped by their own threads.
            for p in processes { p.terminate() }
            throw DlgError.io("cannot start \(names.joined(separator: " | ")): \(failure.message)")
        }
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

    /// Waits for every stage to exit, holding no thread; their statuses in loop order.
    func wait() async -> [Int32] {
        var statuses: [Int32] = []
        for p in processes { statuses.append(await p.exitStatus()) }
        // The writes still queued end at once now that nobody reads them (EPIPE).
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in writes.async { done.resume() } }
        return statuses
    }
}
