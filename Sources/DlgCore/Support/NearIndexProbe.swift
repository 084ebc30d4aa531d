import Foundation

/// `NearIndex` as the file store holds it (an 8-byte ledger offset for each question's id),
/// behind a small public face for the benchmark (`dlg-nearbench`, make bench) and the tests: add
/// questions, check one, and read the work and memory counters. No timing here: the caller times.
public struct NearIndexProbe {
    var index: NearIndex<Int64>

    public init(threshold: Double) { index = NearIndex(threshold: threshold) }

    /// Indexes a question (normalized as dlg-dedup does).
    public mutating func add(_ question: String) {
        let set = NearDuplicates.shingles(Text.normalized(question))
        index.add(Int64(index.count), set: set, bands: NearDuplicates.bands(of: set, index.banding))
    }

    /// The similarity of the best indexed match at or above the threshold, or nil: the whole check
    /// dlg-dedup makes (shingles, MinHash, bands, candidates confirmed on their sets).
    public mutating func check(_ question: String) -> Double? {
        let set = NearDuplicates.shingles(Text.normalized(question))
        return index.match(set, bands: NearDuplicates.bands(of: set, index.banding), isLive: { _ in true })?.similarity
    }

    /// Questions indexed.
    public var count: Int { index.count }
    /// The bytes the index holds (its arrays' capacities).
    public var bytes: Int { index.bytes }
    /// Candidates compared on their sets so far, over every check.
    public var confirmed: Int { index.confirmed }
}
