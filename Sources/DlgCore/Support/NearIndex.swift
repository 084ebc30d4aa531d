import Foundation

/// The near-duplicate side of a store: each indexed question's shingle set and its LSH band
/// entries, compact because the file store holds one per accepted question (docs/decisions.md,
/// "Near-duplicate dedup": about 220 bytes a question of 15 words at 21 bands, `bytes` counts them).
///
/// - The sets: one flat array of 32-bit shingle hashes, each set sorted, and where each starts.
/// - The bands: one open-addressing table (linear probing), 4 bytes a slot, between 7/12 and 7/8
///   full (a band hash's home slot is its high bits scaled to the table's size, so the table grows
///   by half, not twice). A slot holds a question number and, in the bits the numbers do not need
///   yet, a fingerprint of the band hash (its low bits): a question met while probing is a
///   candidate only when its fingerprint matches (11 bits at a million questions: one false
///   candidate in 2,000). Every candidate is confirmed on the sets themselves. Growing re-places
///   every question from its set's band hashes, computed again, and re-splits the 32 bits.
/// - The arrays grow by a quarter too (Swift's own growth doubles, up to half of them unused).
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
    /// (fingerprint << numberBits) | (question number + 1); 0: empty. At `home(hash)` or the first
    /// empty slot after it (wrapping).
    private var slots: [UInt32]
    private var used = 0
    /// Bits for question number + 1: enough for every question the table can take before it grows.
    private var numberBits = 32
    /// Candidates compared on their sets, over every `match`: the work a check costs, for the tests.
    private(set) var confirmed = 0

    init(threshold: Double, capacity: Int = 1 << 10) {
        self.threshold = threshold
        banding = NearDuplicates.Banding(threshold: threshold)
        slots = [UInt32](repeating: 0, count: max(16, capacity))
        numberBits = Self.numberBits(slots: slots.count, bands: banding.bands, count: 0)
    }

    /// The bits question number + 1 needs while a table of `slots` fills up to 7/8 (or the questions
    /// double, for a caller that indexes fewer bands a question).
    private static func numberBits(slots: Int, bands: Int, count: Int) -> Int {
        let most = max(slots * 7 / 8 / max(1, bands), 2 * count) + 2
        return min(32, Int.bitWidth - most.leadingZeroBitCount)
    }

    @inline(__always) private func fingerprint(_ hash: UInt64) -> UInt32 {
        numberBits >= 32 ? 0 : UInt32(truncatingIfNeeded: hash) & ((1 << UInt32(32 - numberBits)) - 1)
    }

    /// The band hash's home slot: its value scaled to the table (the high half of hash x size).
    @inline(__always) private func home(_ hash: UInt64) -> Int {
        Int(hash.multipliedFullWidth(by: UInt64(slots.count)).high)
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
        let size = slots.count
        let numberMask: UInt32 = numberBits >= 32 ? .max : (1 << UInt32(numberBits)) - 1
        for b in bands {
            var i = home(b)
            let print = fingerprint(b)
            while slots[i] != 0 {
                let slot = slots[i]
                i = i + 1 == size ? 0 : i + 1
                guard numberBits >= 32 || slot >> UInt32(numberBits) == print else { continue }
                let n = Int((slot & numberMask) - 1)
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
        Self.reserve(&ids, ids.count + 1)
        Self.reserve(&shingles, shingles.count + set.count)
        Self.reserve(&setStart, setStart.count + 1)
        ids.append(id)
        shingles.append(contentsOf: set.map { UInt32(truncatingIfNeeded: $0) }.sorted())
        setStart.append(UInt32(shingles.count))
        if (used + bands.count) * 8 > slots.count * 7 || (numberBits < 32 && n + 1 >= 1 << numberBits) {
            grow(toHold: used + bands.count)
        }
        place(n, bands)
    }

    /// Room for `count` elements, growing by a quarter when full.
    private static func reserve<T>(_ a: inout [T], _ count: Int) {
        if count > a.capacity { a.reserveCapacity(max(count, a.capacity + a.capacity / 4 + 16)) }
    }

    private func stored(_ n: Int) -> ArraySlice<UInt32> { shingles[Int(setStart[n])..<Int(setStart[n + 1])] }

    private mutating func place(_ n: Int, _ bands: [UInt64]) {
        let size = slots.count
        for b in bands {
            var i = home(b)
            while slots[i] != 0 { i = i + 1 == size ? 0 : i + 1 }
            slots[i] = numberBits >= 32 ? UInt32(n + 1) : fingerprint(b) << UInt32(numberBits) | UInt32(n + 1)
            used += 1
        }
    }

    /// Half as many slots again (7/12 full), every question placed again from its set's band hashes.
    private mutating func grow(toHold entries: Int) {
        slots = [UInt32](repeating: 0, count: max(slots.count + slots.count / 2, entries * 12 / 7 + 1))
        numberBits = Self.numberBits(slots: slots.count, bands: banding.bands, count: ids.count)
        used = 0
        for n in 0..<(ids.count - 1) {
            let sig = NearDuplicates.signature(stored(n).lazy.map { UInt64($0) })
            place(n, NearDuplicates.bands(sig, banding))
        }
    }
}
