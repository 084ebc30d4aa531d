import Foundation
import Logging

/// dlg-dedup: normalized exact-match dedup of pending questions (lowercase, collapsed whitespace)
/// against everything accepted in the run and earlier in the input. Accepted questions are committed
/// to the store (the coverage ledger); rejected ones are marked for dlg-gen to regenerate.
public final class DedupStage: RecordStage, @unchecked Sendable {
    let store: DedupStore
    let log: Logger
    public private(set) var accepted = 0
    public private(set) var rejected = 0
    /// Why the store could not be read or written (the last time), and how many records that left
    /// pending; the tool then reports it and exits 74.
    public private(set) var storeError: String?
    public private(set) var storeFailures = 0

    public init(store: DedupStore, log: Logger) {
        self.store = store
        self.log = log
    }

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
    public func process(_ record: JSONObject) async -> JSONObject {
        var r = record
        guard var p = Record.pending(r) else { return r }
        let candidate = DedupCandidate(conversationID: Record.id(r), turnIndex: p["turn_index"]?.intValue ?? 0,
                                       question: p["user_message"]?.stringValue ?? "",
                                       ledgerEntry: Self.ledgerEntry(r, p))
        do {
            let ok = try store.filterAndCommit([candidate])[0]
            p["state"] = ok ? "accepted" : "rejected"
            if ok { accepted += 1 } else {
                rejected += 1
                log.info("duplicate question attempt=\(p["attempt"]?.intValue ?? 1)", metadata: [
                    "dlg_conversation_id": "\(candidate.conversationID)", "dlg_turn_index": "\(candidate.turnIndex)"])
            }
        } catch {
            // The store failing is not the record's fault: leave it pending for the next pass.
            storeError = error.message
            storeFailures += 1
            log.error("dedup store: \(error.message)")
            return r
        }
        r["pending"] = .object(p)
        return r
    }
}
