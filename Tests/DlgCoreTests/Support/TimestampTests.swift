// The hand-written timestamp formats of the logs and records.

@testable import DlgCore
import Foundation
import Testing

@Suite struct TimestampTests {
    /// The hand-written timestamp formats match what String(format:) and Python's logging print.
    @Test func timestampsArePaddedLikePythons() {
        // Fractions a Double holds exactly (the formats truncate, as before).
        let date = Date(timeIntervalSince1970: 1_767_225_600.25)   // 2026-01-01 00:00:00.25 UTC
        #expect(Timestamps.isoUTC(date) == "2026-01-01T00:00:00.250000+00:00")
        #expect(Timestamps.isoZ(date) == "2026-01-01T00:00:00.250000Z")
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        localtime_r(&t, &tm)
        let expected = String(format: "%04d-%02d-%02d %02d:%02d:%02d,%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                              tm.tm_hour, tm.tm_min, tm.tm_sec, 250)
        #expect(Timestamps.log(date) == expected)
        let early = Date(timeIntervalSince1970: 946_771_509.0625)   // 2000-01-02 00:05:09.0625 UTC
        #expect(Timestamps.isoUTC(early) == "2000-01-02T00:05:09.062500+00:00")
    }
}
