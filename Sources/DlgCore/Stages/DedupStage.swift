import Foundation
import Logging

/// dlg-dedup: normalized exact-match dedup of pending questions (lowercase, collapsed whitespace)
/// against everything accepted in the run and earlier in the input, and with
/// `coverage.near_dedup_threshold` near-duplicate dedup (`NearDuplicates`). Accepted questions are
/// committed to the store (the coverage ledger); rejected ones are marked for dlg-gen to regenerate.
public final class DedupStage: RecordStage, @unchecked Sendable {
    let store: DedupStore
    let log: Logger
    public private(set) var accepted = 0
    public private(set) var rejected = 0
    /// Of the rejected, those rejected as near duplicates.
    public private(set) var nearRejected = 0
    /// Of the rejected, those rejected as semantic duplicates.
    public private(set) var semanticRejected = 0
    /// Why the store could not be read or written (the last time), and how many records that left
    /// pending; the tool then reports it and exits 74 (69 for a database that stayed down).
    public private(set) var storeError: String?
    public private(set) var storeFailure: DlgError?
    public private(set) var storeFailures = 0
    private var rejectionLogFailed = false

    public init(store: DedupStore, log: Logger) {
        self.store = store
        self.log = log
    }

    /// The pending question only: of the turns, their number.
    public var turnView: TurnView { TurnView(fields: []) }

    public func needsWork(_ r: JSONObject) -> Bool {
        Record.status(r) == .active && Record.pending(r)?["state"]?.stringValue == "generated"
    }

    public static func ledgerEntry(_ r: JSONObject, _ p: JSONObject) -> JSONObject {
        let q = p["user_message"]?.stringValue ?? ""
        let seedQ = p["seed_question"]?.stringValue ?? ""
        var e = JSONObject()
        e["timestamp"] = .string(Timestamps.isoZ())
        e["topic_id"] = p["qa_generation"]?["coverage_target"] ?? ""
        e["source_path"] = p["source_path"] ?? ""
        e["question"] = .string(q)
        e["question_hash"] = .string(String(SHA256.hex(ReplyValidation.normalize(q)).prefix(16)))
        e["question_mode"] = p["question_mode"] ?? ""
        e["seed_topic"] = p["seed_topic"] ?? ""
        e["seed_question"] = .string(seedQ)
        e["seed_question_hash"] = .string(seedQ.isEmpty ? "" : String(SHA256.hex(ReplyValidation.normalize(seedQ)).prefix(16)))
        e["conversation_id"] = .string(Record.id(r))
        e["turn_index"] = p["turn_index"] ?? .int(Record.turns(r).count + 1)
        e["language"] = .string(Record.language(r))
        return e
    }

    /// Runs synchronously: the runner gives this stage a concurrency of 1, so input order is slot order.
    public func process(_ record: JSONObject) async -> JSONObject { processBatch([record])[0] }

    /// Decides a batch in one store call; the lowest slot wins within it. When the store fails, the
    /// records are left pending (not the records' fault) and later batches are not tried again (a
    /// database that stayed down has already been waited for).
    public func processBatch(_ records: [JSONObject]) -> [JSONObject] {
        var places: [Int] = []
        var candidates: [DedupCandidate] = []
        for (i, r) in records.enumerated() {
            guard let p = Record.pending(r) else { continue }
            places.append(i)
            candidates.append(DedupCandidate(conversationID: Record.id(r), turnIndex: p["turn_index"]?.intValue ?? 0,
                                             question: p["user_message"]?.stringValue ?? "",
                                             ledgerEntry: Self.ledgerEntry(r, p)))
        }
        if candidates.isEmpty { return records }
        if storeFailure != nil {
            storeFailures += candidates.count
            return records
        }
        let decisions: [DedupDecision]
        do {
            decisions = try store.decide(candidates)
        } catch {
            storeFailure = error
            storeError = error.message
            storeFailures += candidates.count
            log.error("dedup store: \(error.message)")
            return records
        }
        var out = records
        var rejections: [(runID: String, line: JSON)] = []
        for (k, i) in places.enumerated() {
            var p = Record.pending(out[i])!
            let attempt = p["attempt"]?.intValue ?? 1
            let at: Logger.Metadata = [
                "dlg_conversation_id": "\(candidates[k].conversationID)", "dlg_turn_index": "\(candidates[k].turnIndex)"]
            p["state"] = decisions[k].isAccepted ? "accepted" : "rejected"
            switch decisions[k] {
            case .accepted: accepted += 1
            case .duplicate:
                rejected += 1
                log.info("duplicate question attempt=\(attempt)", metadata: at)
                rejections.append(Self.rejection(out[i], candidates[k], attempt: attempt, kind: .exact,
                                                 matched: questionHash(Text.normalized(candidates[k].question)), text: nil, similarity: 1))
            case .nearDuplicate(let id, let similarity), .semanticDuplicate(let id, let similarity):
                rejected += 1
                var kind = DedupRejections.Kind.semantic
                if case .nearDuplicate = decisions[k] { kind = .near }
                if kind == .near { nearRejected += 1 } else { semanticRejected += 1 }
                rejections.append(Self.rejection(out[i], candidates[k], attempt: attempt, kind: kind,
                                                 matched: id, text: store.matchTexts[id], similarity: similarity))
                let shown = String(format: "%.3f", similarity)
                log.info("\(kind.rawValue) matched=\(id) similarity=\(shown) attempt=\(attempt)",
                         metadata: at.merging(["dlg_kind": "\(kind.rawValue)", "dlg_matched_question": "\(id)",
                                                   "dlg_similarity": "\(shown)"]) { a, _ in a })
            }
            out[i]["pending"] = .object(p)
        }
        writeRejections(rejections)
        return out
    }

    /// A rejection's line for `DedupRejections` (the run id the record carries).
    static func rejection(_ r: JSONObject, _ c: DedupCandidate, attempt: Int, kind: DedupRejections.Kind,
                          matched: String, text: String?, similarity: Double) -> (runID: String, line: JSON) {
        let run = r["run_id"]?.stringValue ?? ""
        return (run, DedupRejections.line(runID: run, conversationID: c.conversationID, turnIndex: c.turnIndex,
                                          attempt: attempt, language: Record.language(r), kind: kind, question: c.question,
                                          matchedHash: matched, matchedQuestion: text, similarity: similarity))
    }

    /// The rejections file is a record of what happened, not the dedup itself: a failure to write it
    /// is logged once and the stage goes on (the decisions are already committed).
    func writeRejections(_ lines: [(runID: String, line: JSON)]) {
        guard !lines.isEmpty, let sink = store.rejectionLog, !rejectionLogFailed else { return }
        do { try sink.append(lines) } catch {
            rejectionLogFailed = true
            log.warning("\(DedupRejections.fileName): \(error.message); rejections are no longer written")
        }
    }
}
