import Foundation

/// The near-duplicate side of a store: each indexed question's shingle set and its LSH band
/// entries, compact because the file store holds one per accepted question (docs/decisions.md,
/// "Near-duplicate dedup": about 220 bytes a question of 15 words at 21 bands, `bytes` counts them).
///
/// - The sets: one flat array of 32-bit shingle hashes, each set sorted, and where each starts.
/// - The bands: one open-addressing table (linear probing) of question numbers, 4 bytes a slot, at
///   most 3/4 full. A slot keeps no key: every question met while probing for a band hash is a
///   candidate, and every candidate is confirmed on the sets themselves (a few dozen 15-word merges
///   a check, cheaper than the 8 bytes a slot a stored key would cost). Growing re-places every
///   question from its set's band hashes, computed again.
///
/// A band match alone never rejects: `match` names a question only when the Jaccard of the real
/// sets reaches the threshold.
struct NearIndex<ID> {
    let threshold: Double
    let banding: NearDuplicates.Banding
    private(set) var ids: [ID] = []
    private var shingles: [UInt32] = []
    /// Question n's set is `shingles[setStart[n] ..< setStart[n + 1]]`.
    private var setStart: [UInt32] = [0]
    /// Question number + 1 (0: empty), at `hash & mask` or the first empty slot after it.
    private var slots: [UInt32]
    private var mask: Int
    private var used = 0
    /// Candidates compared on their sets, over every `match`: the work a check costs, for the tests.
    private(set) var confirmed = 0

    init(threshold: Double, capacity: Int = 1 << 10) {
        self.threshold = threshold
        banding = NearDuplicates.Banding(threshold: threshold)
        let size = max(16, 1 << (Int.bitWidth - (capacity - 1).leadingZeroBitCount))
        slots = [UInt32](repeating: 0, count: size)
        mask = size - 1
    }

    /// How many questions are indexed.
    var count: Int { ids.count }

    /// The bytes the index holds (its arrays' capacities): what the benchmark divides by `count`.
    var bytes: Int {
        ids.capacity * MemoryLayout<ID>.stride + shingles.capacity * 4 + setStart.capacity * 4 + slots.capacity * 4
    }

    /// The most similar indexed question at or above the threshold that `isLive` still holds (of
    /// equally similar ones, the first indexed).
    mutating func match(_ set: Set<UInt64>, bands: [UInt64], isLive: (ID) -> Bool) -> (id: ID, similarity: Double)? {
        if set.isEmpty { return nil }
        let sorted = set.map { UInt32(truncatingIfNeeded: $0) }.sorted()
        var seen: [UInt32] = []
        var best: (n: Int, similarity: Double)?
        for b in bands {
            var i = Int(truncatingIfNeeded: b) & mask
            while slots[i] != 0 {
                let n = Int(slots[i] - 1)
                i = (i + 1) & mask
                if seen.contains(UInt32(n)) { continue }
                seen.append(UInt32(n))
                confirmed += 1
                let j = NearDuplicates.jaccard(sorted: sorted, stored(n))
                guard j >= threshold else { continue }
                if let cur = best, j < cur.similarity || (j == cur.similarity && n > cur.n) { continue }
                guard isLive(ids[n]) else { continue }
                best = (n, j)
            }
        }
        return best.map { (ids[$0.n], $0.similarity) }
    }

    /// Indexes a question under its band hashes (an empty set is never a duplicate: not indexed).
    /// The caller adds each question once.
    mutating func add(_ id: ID, set: Set<UInt64>, bands: [UInt64]) {
        if set.isEmpty { return }
        let n = ids.count
        ids.append(id)
        shingles.append(contentsOf: set.map { UInt32(truncatingIfNeeded: $0) }.sorted())
        setStart.append(UInt32(shingles.count))
        while (used + bands.count) * 4 > slots.count * 3 { grow() }
        place(n, bands)
    }

    private func stored(_ n: Int) -> ArraySlice<UInt32> { shingles[Int(setStart[n])..<Int(setStart[n + 1])] }

    private mutating func place(_ n: Int, _ bands: [UInt64]) {
        for b in bands {
            var i = Int(truncatingIfNeeded: b) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = UInt32(n + 1)
            used += 1
        }
    }

    /// Twice the slots, every question placed again from its set's band hashes.
    private mutating func grow() {
        slots = [UInt32](repeating: 0, count: slots.count * 2)
        mask = slots.count - 1
        used = 0
        for n in 0..<(ids.count - 1) {
            let sig = NearDuplicates.signature(stored(n).lazy.map { UInt64($0) })
            place(n, NearDuplicates.bands(sig, banding))
        }
    }
}
