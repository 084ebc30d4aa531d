import Foundation

/// dlg-dedup's loop: records go to the store in batches, in input order. A batch is whatever was
/// read while the previous one was being decided (at most `maxBatch` records), so a stream that
/// trickles in (dlg-run's loop) is answered at once and a file in bulk costs one store round trip
/// per `maxBatch` records instead of one per record (a database round trip each would cap dedup at
/// a few thousand questions a second). Output order is input order.
public enum DedupBatchRunner {
    struct PendingBatch: @unchecked Sendable {
        var out: [[UInt8]?]
        var records: [RecordLine]
        var places: [Int]
    }

    /// The first error of the writing step (a closed stdout, a failed write).
    final class WriteFailure: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: (any Error)?
        var error: (any Error)? {
            get { lock.withLock { stored } }
            set { lock.withLock { stored = newValue } }
        }
    }

    /// Lines handed from the reader thread to the loop, with backpressure.
    final class Queue: @unchecked Sendable {
        let cond = NSCondition()
        var lines: [(number: Int, bytes: [UInt8])] = []
        var ended = false
        var failure: DlgError?
        var stopped = false
        let limit: Int
        init(limit: Int) { self.limit = limit }

        func push(_ number: Int, _ bytes: [UInt8]) -> Bool {
            cond.lock()
            defer { cond.unlock() }
            while lines.count >= limit && !stopped { cond.wait() }
            if stopped { return false }
            lines.append((number, bytes))
            cond.broadcast()
            return true
        }

        func finish(_ error: DlgError?) {
            cond.withLock {
                ended = true
                failure = error
                cond.broadcast()
            }
        }

        /// Waits for at least one line (or the end), then takes up to `max` of them.
        func take(_ max: Int) -> [(number: Int, bytes: [UInt8])]? {
            cond.lock()
            defer { cond.unlock() }
            while lines.isEmpty && !ended { cond.wait() }
            if lines.isEmpty { return nil }
            let n = min(max, lines.count)
            let out = Array(lines[0..<n])
            lines.removeFirst(n)
            cond.broadcast()
            return out
        }

        func stop() { cond.withLock { stopped = true; cond.broadcast() } }
    }

    /// Runs `stage` over JSONL from `input` to `output`. A line that is not a dialogue record goes
    /// to `onBadLine` (with its line number) and is skipped, or ends the run when `strict`.
    public static func run(_ stage: DedupStage, input: LineReader, output: FDWriter, strict: Bool,
                           maxBatch: Int = 2000, onBadLine: (String) -> Void) throws -> StageSummary {
        let queue = Queue(limit: maxBatch * 4)
        startReading(input, into: queue)
        defer { queue.stop() }

        // Two steps overlap: this thread parses batch N+1 while the writer decides batch N with the
        // store (one round trip) and writes it, so the database's time and ours add up less.
        let writer = DispatchQueue(label: "dlg.dedup.decide")
        let slots = DispatchSemaphore(value: 1)
        let failed = WriteFailure()
        var summary = StageSummary()
        func finishWrites() throws {
            writer.sync {}
            if let e = failed.error { throw e }
        }
        while let batch = queue.take(maxBatch) {
            let job: PendingBatch
            do {
                job = try parse(batch, stage: stage, inputName: input.name, strict: strict, summary: &summary, onBadLine: onBadLine)
            } catch {
                try finishWrites()
                throw error
            }
            slots.wait()
            if let e = failed.error { slots.signal(); throw e }
            writer.async {
                defer { slots.signal() }
                do { try decideAndWrite(job, stage: stage, output: output) } catch { failed.error = failed.error ?? error }
            }
        }
        try finishWrites()
        if let failure = queue.cond.withLock({ queue.failure }) { throw failure }
        return summary
    }

    /// Reads `input`'s lines into `queue` on a thread of its own (a slow upstream never blocks the caller).
    static func startReading(_ input: LineReader, into queue: Queue) {
        let reader = Thread {
            do {
                while let line = try input.next() {
                    if !queue.push(input.lineNumber, Array(line)) { return }
                }
                queue.finish(nil)
            } catch let e as DlgError {
                queue.finish(e)
            } catch {
                queue.finish(DlgError.io("\(input.name): \(error)"))
            }
        }
        reader.stackSize = 1 << 20
        reader.start()
    }

    /// A batch of lines parsed: each line's output bytes, or nil where the store decides (the
    /// records needing dedup, with their places). A bad line throws when `strict`.
    static func parse(_ batch: [(number: Int, bytes: [UInt8])], stage: DedupStage, inputName: String, strict: Bool,
                      summary: inout StageSummary, onBadLine: (String) -> Void) throws(DlgError) -> PendingBatch {
        var out: [[UInt8]?] = []
        var records: [RecordLine] = []
        var places: [Int] = []
        out.reserveCapacity(batch.count)
        for line in batch {
            if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { out.append([]); continue }
            summary.records += 1
            switch RecordLine.parse(line.bytes, view: stage.turnView) {
            case .failure(let problem):
                summary.badLines += 1
                onBadLine("\(inputName):\(line.number): \(problem)")
                if strict { throw DlgError.data("\(inputName):\(line.number): \(problem)") }
                out.append([])
            case .success(let record):
                if stage.needsWork(record.record) {
                    summary.worked += 1
                    places.append(out.count)
                    records.append(record)
                    out.append(nil)
                } else {
                    out.append(line.bytes + [0x0A])
                }
            }
        }
        return PendingBatch(out: out, records: records, places: places)
    }

    /// Decides a batch with the store (one round trip) and writes its lines in input order.
    static func decideAndWrite(_ job: PendingBatch, stage: DedupStage, output: FDWriter) throws {
        var out = job.out
        let decided = stage.processBatch(job.records.map(\.record))
        for (k, record) in decided.enumerated() {
            let line = job.records[k]
            var bytes: [UInt8] = []
            bytes.reserveCapacity(line.byteCount + 256)
            line.write(record, into: &bytes)
            bytes.append(0x0A)
            out[job.places[k]] = bytes
        }
        for bytes in out where !(bytes?.isEmpty ?? true) { try output.write(bytes!) }
        try output.flush()
    }
}
