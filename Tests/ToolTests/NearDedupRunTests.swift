// Whole runs with coverage.near_dedup_threshold: 0.8 against a mock that sends near-duplicates
// (dlg-mock --near-duplicate-rate: a word or two added, clauses swapped, punctuation or case changed):
// in the file store, in PostgreSQL, and split in two shards running at once on one PostgreSQL run, no
// pair of the dataset's questions is at or above 0.8, measured by a Jaccard written here apart from
// DlgCore's; the rejections file lists the near-duplicates turned away and every rejected attempt.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// Jaccard of word sets as docs/metrics.md and NearDuplicates document them, on the strings themselves
/// (not DlgCore's 32-bit hashes): tokens are lowercase maximal runs of letters or digits; a run in a
/// script written without spaces gives its character bigrams (a one-character run, the character).
enum IndependentJaccard {
    static func isWordScalar(_ s: Unicode.Scalar) -> Bool { s.properties.isAlphabetic || s.properties.numericType != nil }

    static func isUnspaced(_ s: Unicode.Scalar) -> Bool {
        [0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x3FFFF, 0x3040...0x309F, 0x30A0...0x30FF,
         0x31F0...0x31FF, 0xFF66...0xFF9F, 0x0E00...0x0EFF, 0x1000...0x109F, 0x1780...0x17FF].contains { $0.contains(s.value) }
    }

    static func shingles(_ text: String) -> Set<String> {
        var out = Set<String>()
        var word = String.UnicodeScalarView()
        var run: [Unicode.Scalar] = []
        func endWord() {
            if !word.isEmpty { out.insert(String(word).lowercased()) }
            word = String.UnicodeScalarView()
        }
        func endRun() {
            if run.count == 1 { out.insert(String(Character(run[0]))) }
            for i in run.indices.dropLast() { out.insert(String(Character(run[i])) + String(Character(run[i + 1]))) }
            run = []
        }
        for s in text.unicodeScalars {
            if isUnspaced(s) {
                endWord()
                run.append(s)
            } else if isWordScalar(s) {
                endRun()
                word.append(s)
            } else {
                endWord()
                endRun()
            }
        }
        endWord()
        endRun()
        return out
    }

    static func similarity(_ a: String, _ b: String) -> Double {
        let x = shingles(a), y = shingles(b)
        if x.isEmpty || y.isEmpty { return 0 }
        return Double(x.intersection(y).count) / Double(x.union(y).count)
    }

    /// The pairs of `questions` at or above `threshold`, for a message.
    static func pairs(_ questions: [String], atLeast threshold: Double) -> [String] {
        let sets = questions.map(shingles)
        var out: [String] = []
        for i in sets.indices {
            for j in sets.indices where j > i && !sets[i].isEmpty {
                let shared = sets[i].intersection(sets[j]).count
                let similarity = Double(shared) / Double(sets[i].count + sets[j].count - shared)
                if similarity >= threshold { out.append("\(String(format: "%.3f", similarity)): \(questions[i]) | \(questions[j])") }
            }
        }
        return out
    }
}

@Suite("near-duplicate dedup in whole runs") struct NearDedupRunTests {
    /// The mock: 40% of qa_generator replies (once it gave a question in that language) a near-duplicate.
    static let mockOptions = ["--seed", "24", "--near-duplicate-rate", "0.4"]

    /// English and French, 8 dialogues each, up to 3 turns, near dedup at 0.8, room for retries.
    static func configure(_ work: WorkDir) throws {
        try work.setConfig("run.target_languages", "[en, fr]")
        try work.setConfig("run.total_samples", "8")
        try work.setConfig("run.batch_size", "4")
        try work.setConfig("coverage.near_dedup_threshold", "0.8")
        try work.setConfig("coverage.question_dedup_retries", "8")
    }

    /// The user messages of conversations_sharegpt.jsonl.
    static func questions(_ work: WorkDir) throws -> [String] {
        try work.records("outputs/conversations_sharegpt.jsonl").flatMap { r in
            (r["messages"]?.arrayValue ?? []).filter { $0["role"]?.stringValue == "user" }.compactMap { $0["content"]?.stringValue }
        }
    }

    /// (conversation_id, turn_index, attempt) of every question the dataset's turns had rejected
    /// (attempts 1..<k of a turn whose question was its k-th), from synthetic_qa.jsonl's raw_results.
    static func rejectedAttempts(_ work: WorkDir) throws -> Set<String> {
        var out = Set<String>()
        for r in try work.records("outputs/synthetic_qa.jsonl") {
            let id = r["conversation_id"]?.stringValue ?? "?"
            for t in r["raw_results"]?.arrayValue ?? [] {
                guard let turn = t["turn_index"]?.intValue, let attempt = t["attempt"]?.intValue, attempt > 1 else { continue }
                for a in 1..<attempt { out.insert("\(id)#\(turn)#\(a)") }
            }
        }
        return out
    }

    /// The lines of the run's rejections files (`run_state/<record run id>/`: the run id, a dash and the
    /// language) in each of `works` (the output folders the run's processes wrote).
    static func rejections(_ works: [WorkDir], runID: String) throws -> [JSONObject] {
        try works.flatMap { w in
            let folders = ((try? FileManager.default.contentsOfDirectory(atPath: w.file("outputs/run_state").path)) ?? [])
                .filter { $0 == runID || $0.hasPrefix(runID + "-") }.sorted()
            return try folders.flatMap { f in
                let path = "outputs/run_state/\(f)/dedup_rejections.jsonl"
                return w.exists(path) ? try w.records(path) : []
            }
        }
    }

    /// The dataset's rejected attempts that no rejections file of `rejectionFolders` lists.
    static func unlistedRejections(dataset: WorkDir, rejectionFolders: [WorkDir], runID: String) throws -> Set<String> {
        let listed = Set(try rejections(rejectionFolders, runID: runID).map {
            "\($0["conversation_id"]?.stringValue ?? "")#\($0["turn_index"]?.intValue ?? -1)#\($0["attempt"]?.intValue ?? -1)"
        })
        return try rejectedAttempts(dataset).subtracting(listed)
    }

    /// What every case checks: a dataset of `turns` questions (more than zero) with no near pair, the
    /// near-duplicates rejected with their similarity, every rejected attempt in the rejections files.
    static func checkNoNearPair(dataset: WorkDir, rejectionFolders: [WorkDir], runID: String, turns: Int?) throws {
        let questions = try Self.questions(dataset)
        #expect(!questions.isEmpty, "the dataset has no question")
        if let turns { #expect(questions.count == turns, "\(questions.count) questions for \(turns) turns") }
        let pairs = IndependentJaccard.pairs(questions, atLeast: 0.8)
        #expect(pairs.isEmpty, "\(pairs.count) near pair(s) kept:\n\(pairs.prefix(10).joined(separator: "\n"))")
        let lines = try Self.rejections(rejectionFolders, runID: runID)
        let near = lines.filter { $0["kind"]?.stringValue == "near_duplicate" }
        #expect(near.count >= 3, "only \(near.count) near_duplicate rejection(s) of \(lines.count)")
        for line in near {
            let question = line["question"]?.stringValue ?? "", matched = line["matched_question"]?.stringValue ?? ""
            let own = IndependentJaccard.similarity(question, matched)
            #expect((line["similarity"]?.doubleValue ?? 0) >= 0.8 && own >= 0.8 && (line["run_id"]?.stringValue ?? "").hasPrefix(runID + "-"),
                    "\(JSON.object(line).serialized()) (similarity here \(own))")
        }
        let unlisted = try Self.unlistedRejections(dataset: dataset, rejectionFolders: rejectionFolders, runID: runID)
        #expect(unlisted.isEmpty, "rejected attempts missing from the rejections file(s): \(unlisted.sorted().prefix(10))")
    }

    @Test(.timeLimit(.minutes(10)))
    func aFileStoreRunKeepsNoNearPair() async throws {
        let work = try WorkDir(label: "near-run-file")
        try Self.configure(work)
        try await withMock(Self.mockOptions) { mock in
            let runID = "near-file"
            let (r, summary) = try await runDlgRun(work, mock, runID: runID)
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 8, "fr": 8])
            #expect((summary?["duplicates"]?["near"]?.doubleValue ?? 0) > 0, "the summary counts no near duplicate: \(r.stdout)")
            try Self.checkNoNearPair(dataset: work, rejectionFolders: [work], runID: runID, turns: summary?["turns"]?.intValue)
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func aPostgresRunKeepsNoNearPair() async throws {
        let dsn = try #require(PostgresTestServer.dsn, Comment(rawValue: PostgresTestServer.howTo))
        let work = try WorkDir(label: "near-run-pg")
        try Self.configure(work)
        try await withMock(Self.mockOptions) { mock in
            let runID = PostgresTestServer.freshRunID("near-pg")
            let (r, summary) = try await PostgresRunTests.pgRun(work, mock, runID: runID, dsn: dsn)
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 8, "fr": 8])
            #expect(r.stderr.contains("checkpoint in postgres"), "\(r)")
            try Self.checkNoNearPair(dataset: work, rejectionFolders: [work], runID: runID, turns: summary?["turns"]?.intValue)
        }
    }

    /// Two `dlg-run --shard I/2` at once on one PostgreSQL run, each in a folder of its own (as on two
    /// hosts), then `dlg-export --run-id` in a third: no near pair across the two shards' questions.
    @Test(.timeLimit(.minutes(10)))
    func twoShardsAtOnceKeepNoNearPairAcrossThem() async throws {
        let dsn = try #require(PostgresTestServer.dsn, Comment(rawValue: PostgresTestServer.howTo))
        let shards = try (0..<2).map { try WorkDir(label: "near-shard\($0)") }
        let head = try WorkDir(label: "near-shard-export")
        for w in shards + [head] { try Self.configure(w) }
        try await withMock(Self.mockOptions) { mock in
            let runID = PostgresTestServer.freshRunID("near-shards")
            var env = mock.env
            env["POSTGRES_DSN"] = dsn
            let running = try shards.enumerated().map { i, w in
                try startTool("dlg-run", args: ["--config", w.configPath, "--run-id", runID, "--shard", "\(i)/2", "--json"],
                              env: env, cwd: w.url)
            }
            var shardQuestions = 0
            for (i, proc) in running.enumerated() {
                let r = try await proc.finish(timeout: .seconds(400))
                try #require(r.status == 0, "shard \(i)/2: \(r)")
                let summary = try JSONL.object(r.stdout)
                let completed = summary["completed"]
                #expect(completed?["en"]?.intValue == 4 && completed?["fr"]?.intValue == 4, "shard \(i)/2: \(r.stdout)")
                shardQuestions += summary["turns"]?.intValue ?? 0
            }
            let exported = try await stage("dlg-export", head, nil, ["--run-id", runID], env: ["POSTGRES_DSN": dsn])
            try #require(exported.status == 0, "\(exported)")
            #expect(try head.records("outputs/conversations_index.jsonl").count == 16)
            try Self.checkNoNearPair(dataset: head, rejectionFolders: shards, runID: runID, turns: shardQuestions)
            // Dedup worked across the shards: some near-duplicates one shard rejected matched a question the
            // other shard kept (a dialogue's shard is its slot modulo 2, the id's last 4 digits).
            var keptBy: [String: Int] = [:]
            for r in try head.records("outputs/conversations_sharegpt.jsonl") {
                let id = r["metadata"]?["conversation_id"]?.stringValue ?? ""
                for m in r["messages"]?.arrayValue ?? [] where m["role"]?.stringValue == "user" {
                    keptBy[m["content"]?.stringValue ?? ""] = Int(id.suffix(4)).map { $0 % 2 }
                }
            }
            let crossing = try Self.rejections(shards, runID: runID).filter { line in
                guard line["kind"]?.stringValue == "near_duplicate", let matched = line["matched_question"]?.stringValue,
                      let other = keptBy[matched], let slot = Int((line["conversation_id"]?.stringValue ?? "").suffix(4)) else { return false }
                return other != slot % 2
            }
            #expect(!crossing.isEmpty, "no near-duplicate was rejected against the other shard's question")
        }
    }
}
