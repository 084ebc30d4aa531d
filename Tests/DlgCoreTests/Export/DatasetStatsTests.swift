// The dataset statistics: histograms and score buckets as upstream computes them.

@testable import DlgCore
import Foundation
import Testing

@Suite struct DatasetStatsTests {
    @Test func histogramsHaveTwelveBinsOfEqualWidth() {
        #expect(DatasetStats.histogram([]) == .obj([:]))
        #expect(DatasetStats.histogram([5, 5]) == .obj(["5-5": 2]), "one bin when every value is the same")
        let wide = DatasetStats.histogram(Array(1...24))
        #expect(wide.objectValue?.pairs.map(\.key) == ["1-2", "3-4", "5-6", "7-8", "9-10", "11-12", "13-14", "15-16",
                                                        "17-18", "19-20", "21-22", "23-24"])
        let uneven = DatasetStats.histogram([0, 30])   // width ceil(31 / 12) = 3
        #expect(uneven.objectValue?.pairs.first?.key == "0-2" && uneven.objectValue?.pairs.last?.key == "30-32")
        #expect(uneven.objectValue?.pairs.map { $0.value.intValue ?? 0 }.reduce(0, +) == 2)
    }

    @Test func scoresAreRoundedThenClamped() {
        let b = DatasetStats.scoreBuckets([-1, 0.4, 6.5, 7.49, 12])
        #expect(b["0"] == 2 && b["6"] == 1 && b["7"] == 1 && b["10"] == 1, "half to even, as upstream: \(b.serialized())")
        #expect(DatasetStats.mean([1, 2, 2]) == .double(1.6667) && DatasetStats.mean([]) == .null)
    }
}
