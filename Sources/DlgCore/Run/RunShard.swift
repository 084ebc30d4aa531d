import Foundation

/// One shard of a run split across machines (`dlg-run --shard I/N`, what `dlg-cluster run` starts on
/// each Ray task): every language's slots `I, I+N, I+2N, ...`. Slots are dealt out round-robin rather
/// than in ranges so that a dropped dialogue's replacement (the next slot of the shard) can never take
/// a slot of another shard. The shard completes its share of `run.total_samples` per language, and
/// keeps its share of `run.batch_size` in flight, so N shards together hold the single run's counts and
/// the same total in flight. All shards use one run id and the PostgreSQL store: dedup, the ledger and
/// the journal are the run's, and the dataset is built from the database (`dlg-export --run-id`).
public struct RunShard: Equatable, Sendable {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws(DlgError) {
        guard count >= 1, (0..<count).contains(index) else {
            throw DlgError(.usage, "shard \(index)/\(count): the index must be in 0..<count and the count at least 1")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N`.
    public init(parsing text: String) throws(DlgError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
            throw DlgError(.usage, "shard \"\(text)\": expected I/N, e.g. 0/4")
        }
        try self.init(index: i, count: n)
    }

    public func owns(slot: Int) -> Bool { slot >= 0 && slot % count == index }

    /// The first slot of the shard at or after `slot`.
    public func slot(atOrAfter slot: Int) -> Int {
        let s = max(slot, 0)
        let r = s % count
        return r <= index ? s - r + index : s - r + count + index
    }

    /// This shard's part of `total` (the slots below `total` it owns).
    public func share(of total: Int) -> Int {
        total <= index ? 0 : (total - index + count - 1) / count
    }

    /// This shard's part of the in-flight budget, at least one.
    public func batch(of total: Int) -> Int { max(1, share(of: total)) }

    public var description: String { "\(index)/\(count)" }
}
