import Foundation

/// `saving.filters.near_dedup_threshold` (ours, issue 24): for datasets made before online
/// near-duplicate dedup existed (or with it off), the filtered file leaves out a dialogue any of
/// whose questions is a near duplicate (Jaccard of the shingle sets at or above the threshold,
/// `NearDuplicates`) of a question of a dialogue kept before it, in file order. It is checked last,
/// after the other filters, so only dialogues kept in the filtered file count as "kept before".
/// The questions of one dialogue are not compared with each other.
final class NearDuplicateFilter {
    private var index: NearIndex<Int>
    private var kept = 0

    init(threshold: Double) { index = NearIndex(threshold: threshold) }

    /// Whether `r` is kept; a kept dialogue's questions are indexed for the dialogues after it.
    func admit(_ r: JSONObject) -> Bool {
        let sets = Record.turns(r).compactMap { $0["user_message"]?.stringValue }
            .map { NearDuplicates.shingles(Text.normalized($0)) }
        let bands = sets.map { NearDuplicates.bands(of: $0, index.banding) }
        for (set, b) in zip(sets, bands) where index.match(set, bands: b, isLive: { _ in true }) != nil { return false }
        for (set, b) in zip(sets, bands) { index.add(kept, set: set, bands: b) }
        kept += 1
        return true
    }
}
