import Foundation

/// The bookkeeping of one `StageRunner.run`: which records are read, parsed, with the stage, finished
/// and written, and the summary. One loop owns it (never shared with the tasks, which report through
/// `sink`), so it needs no lock.
final class StageRunState<Stage: RecordStage> {
    let stage: Stage
    let view: TurnView
    let inputName: String
    let output: FDWriter
    let strict: Bool
    let mode: StageRunner.Mode
    let observer: (any StageObserver)?
    let feeder: LineFeeder
    let sink: AsyncStream<StageEvent>.Continuation
    /// Records the stage may hold at once.
    let slots: Int

    var summary = StageSummary()
    var fatal: Error?
    /// Finished records waiting for those before them (ordered mode), by sequence number.
    private var finished: [Int: [UInt8]] = [:]
    private var nextToWrite = 0
    private var sequence = 0
    /// Records with the stage (at most `slots`), and lines being parsed.
    private var working = 0
    private var parsing = 0
    private var inputDone = false
    /// Lines parsed (or found blank) ahead of one still being parsed: parse tasks end in any order, and
    /// lines are taken in input order, so bad lines are reported and records start in that order.
    private var parsedAhead: [Int: StageEvent.Parsed?] = [:]
    private var nextToTake = 0
    /// Parsed records waiting for a free slot, in input order (from `readyStart`).
    private var ready: [(sequence: Int, line: RecordLine)] = []
    private var readyStart = 0
    /// Set once the records not started are dropped (a fatal error, or an unordered stage stopped).
    private(set) var dropping = false

    init(stage: Stage, inputName: String, output: FDWriter, strict: Bool, mode: StageRunner.Mode,
         observer: (any StageObserver)?, feeder: LineFeeder, sink: AsyncStream<StageEvent>.Continuation, slots: Int) {
        self.stage = stage
        self.view = stage.turnView
        self.inputName = inputName
        self.output = output
        self.strict = strict
        self.mode = mode
        self.observer = observer
        self.feeder = feeder
        self.sink = sink
        self.slots = slots
    }

    /// Whether every line was read and every record written or handed on.
    var isFinished: Bool { inputDone && readyStart >= ready.count && working == 0 && parsing == 0 }

    /// Takes one event of the loop: a line read, a line parsed, the input's end or failure, a record done.
    func take(_ event: StageEvent, group: inout DiscardingTaskGroup) throws {
        switch event {
        case .line(let line):
            guard !inputDone else { break }
            let seq = sequence
            sequence += 1
            if RecordCheck.isBlank(line.bytes) {
                try inOrder(seq, nil)
            } else if strict {
                try inOrder(seq, StageRunner.classify(line, stage: stage, view: view))
            } else {
                parsing += 1
                let (stage, view, sink) = (stage, view, sink)
                group.addTask { sink.yield(.parsed(sequence: seq, StageRunner.classify(line, stage: stage, view: view))) }
            }
        case .parsed(let seq, let parsed):
            parsing -= 1
            try inOrder(seq, parsed)
        case .inputFailed(let e):
            fatal = fatal ?? e
        case .inputEnd:
            inputDone = true
        case .done(let seq, let bytes, let dropped):
            working -= 1
            if dropped { summary.dropped += 1 }
            observer?.finished(dropped: dropped)
            try emit(seq, bytes)
        }
        try startReady(&group)
        if fatal != nil && !dropping { dropWaiting() }
    }

    /// Takes line `seq` (nil: blank) once every line before it was taken.
    private func inOrder(_ seq: Int, _ parsed: StageEvent.Parsed?) throws {
        parsedAhead[seq] = .some(parsed)
        while let next = parsedAhead.removeValue(forKey: nextToTake) {
            let at = nextToTake
            nextToTake += 1
            if let next { try handle(at, next) } else { try emit(at, []) }
        }
    }

    /// Writes the finished records that are next in input order.
    func flushReady() throws {
        while let bytes = finished.removeValue(forKey: nextToWrite) {
            if !bytes.isEmpty { try output.write(bytes) }
            nextToWrite += 1
            feeder.release()
        }
    }

    /// A record (or an empty placeholder for a skipped line) is done.
    private func emit(_ seq: Int, _ bytes: [UInt8]) throws {
        if mode.ordered {
            finished[seq] = bytes
            try flushReady()
        } else {
            if !bytes.isEmpty {
                try output.write(bytes)
                try output.flush()
            }
            feeder.release()
        }
    }

    private func dropWaiting() {
        dropping = true
        inputDone = true
        for r in ready[readyStart...] { try? emit(r.sequence, []) }
        ready.removeAll()
        readyStart = 0
        feeder.stop()
    }

    /// Asked before each record is started or passed on: true stops an unordered stage.
    private func halts() -> Bool { !mode.ordered && (mode.stop?() ?? false) }

    private func handle(_ seq: Int, _ parsed: StageEvent.Parsed) throws {
        if dropping { return try emit(seq, []) }
        switch parsed {
        case .bad(let number, let problem):
            summary.records += 1
            summary.badLines += 1
            if strict {
                fatal = fatal ?? DlgError.data("\(inputName):\(number): \(problem)")
            } else {
                observer?.skippedBadLine(source: inputName, line: number, problem: problem.description)
            }
            try emit(seq, [])
        case .passed(let bytes):
            if halts() {
                // The records not started stay with dlg-run, which holds them in its journal.
                try emit(seq, [])
                dropWaiting()
                return
            }
            summary.records += 1
            try emit(seq, bytes)
        case .ready(let line):
            ready.append((seq, line))
        }
    }

    /// Starts parsed records while there are free slots.
    private func startReady(_ group: inout DiscardingTaskGroup) throws {
        while working < slots && readyStart < ready.count && fatal == nil {
            let (seq, line) = ready[readyStart]
            readyStart += 1
            if readyStart >= 64 && readyStart * 2 > ready.count {
                ready.removeFirst(readyStart)
                readyStart = 0
            }
            if mode.stop?() ?? false {
                if !mode.ordered {
                    try emit(seq, [])
                    dropWaiting()
                    return
                }
                summary.records += 1
                try emit(seq, line.bytesWithNewline())
                continue
            }
            summary.records += 1
            summary.worked += 1
            working += 1
            observer?.started()
            let (stage, view, sink) = (stage, view, sink)
            group.addTask {
                var line = line
                if view.wholeForWork, line.isPartial, case .success(let whole) = line.readWhole() { line = whole }
                let out = await stage.process(line.record)
                var bytes: [UInt8] = []
                bytes.reserveCapacity(line.byteCount + 1024)
                line.write(out, into: &bytes)
                bytes.append(0x0A)
                sink.yield(.done(sequence: seq, bytes: bytes, dropped: Record.status(out) == .dropped))
            }
        }
    }
}
