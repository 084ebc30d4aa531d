// The store section: upstream's keys and environment variables, and which store a run ends up with.

import Foundation
import Testing
@testable import DlgCore

@Suite struct StoreSettingsTests {
    @Test func upstreamsSampleConfigKeepsTheFileStore() throws {
        let f = try ConfigFixture("store:\n  backend: postgres\n  postgres:\n    dsn: \"${DLGFORGE_POSTGRES_DSN}\"\n")
        defer { f.cleanup() }
        let s = try f.load()
        #expect(s.store.backend == "postgres" && s.store.dsn.isEmpty && !s.store.usesPostgres)
        #expect(s.store.fileFallbackNote?.contains("stays in files") == true)
        #expect(s.store.statementTimeoutMs == 30000 && s.store.minPoolSize == 5 && s.store.maxPoolSize == 30)
    }

    @Test func theDSNComesFromTheConfigItsVariablesOrPOSTGRES_DSN() throws {
        let f = try ConfigFixture("store:\n  postgres:\n    dsn: \"postgresql://u:${PW}@db.example:5432/runs\"\n    statement_timeout_ms: 500\n")
        defer { f.cleanup() }
        let expanded = try f.load(["PW": "s3cret"])
        #expect(expanded.store.dsn == "postgresql://u:s3cret@db.example:5432/runs" && expanded.store.usesPostgres)
        #expect(expanded.store.statementTimeoutMs == 500)
        let overridden = try f.load(["POSTGRES_DSN": "host=other dbname=x", "STORE_BACKEND": "file"])
        #expect(overridden.store.dsn == "host=other dbname=x")
        #expect(overridden.store.backend == "file" && !overridden.store.usesPostgres && overridden.store.fileFallbackNote == nil)
    }

    @Test func DLGFORGE_POSTGRES_DSNIsOnlyForDistributedRunsAsUpstream() throws {
        let local = try ConfigFixture("run:\n  batch_size: 1\n")
        defer { local.cleanup() }
        #expect(try !local.load(["DLGFORGE_POSTGRES_DSN": "host=h"]).store.usesPostgres)
        let distributed = try ConfigFixture("run:\n  distributed:\n    enabled: true\n")
        defer { distributed.cleanup() }
        #expect(try distributed.load(["DLGFORGE_POSTGRES_DSN": "host=h"]).store.dsn == "host=h")
    }

    @Test func badStoreValuesAreConfigErrorsNamingTheKey() throws {
        for (yaml, key) in [("store:\n  backend: redis\n", "store.backend"),
                            ("store:\n  postgres:\n    min_pool_size: 9\n    max_pool_size: 2\n", "store.postgres.min_pool_size"),
                            ("store:\n  postgres:\n    statement_timeout_ms: -1\n", "store.postgres.statement_timeout_ms")] {
            let f = try ConfigFixture(yaml)
            defer { f.cleanup() }
            do {
                _ = try f.load()
                Issue.record("\(key) accepted")
            } catch let e as DlgError {
                #expect(e.code == .config && e.message.contains(key), "\(e.message)")
            }
        }
    }
}
