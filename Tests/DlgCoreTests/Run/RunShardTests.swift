import DlgCore
import Testing

@Suite struct RunShardTests {
    @Test func slotsAreDealtRoundRobinAndCoverTheRunOnce() throws {
        let shards = try (0..<4).map { i throws(DlgError) in try RunShard(index: i, count: 4) }
        for slot in 0..<40 { #expect(shards.filter { $0.owns(slot: slot) }.count == 1) }
        #expect(shards.map { $0.share(of: 16) } == [4, 4, 4, 4])
        #expect(shards.map { $0.share(of: 6) } == [2, 2, 1, 1])
        #expect(shards.map { $0.share(of: 2) } == [1, 1, 0, 0])
        #expect(shards.map { $0.batch(of: 8) } == [2, 2, 2, 2])
        #expect(shards[1].slot(atOrAfter: 0) == 1 && shards[1].slot(atOrAfter: 2) == 5 && shards[1].slot(atOrAfter: 5) == 5)
        #expect(shards[3].slot(atOrAfter: 4) == 7)
    }

    @Test func parsesAndRejects() throws {
        #expect(try RunShard(parsing: "2/5") == RunShard(index: 2, count: 5))
        for bad in ["5/5", "-1/3", "1/0", "x", "1/2/3", ""] {
            #expect(throws: DlgError.self) { try RunShard(parsing: bad) }
        }
    }
}

@Suite struct ClusterControlTests {
    @Test func findsTheVariablesAConfigNames() {
        let text = "llm:\n  base_url: ${BENCH_URL}\n  api_key: ${KEY:-none} ${KEY}\nstore: {dsn: '$HOME ${PG_DSN_2}'}\n"
        #expect(ClusterControl.referencedVariables(text) == ["BENCH_URL", "KEY", "PG_DSN_2"])
    }
}
