// dlg-gen: new dialogues with --new, the next question for open dialogues, regeneration after dedup.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("dlg-gen") struct GenTests {
    @Test func newStartsDialoguesWithAGeneratedQuestion() async throws {
        let work = try WorkDir()
        try await withMock(["--seed", "11"]) { mock in
            let r = try await stage("dlg-gen", work, mock, ["--new", "3", "--language", "en", "--run-id", "gen-a"])
            try #require(r.status == 0, "\(r)")
            let records = try JSONL.records(r.stdout)
            try #require(records.count == 3, "\(r)")
            var questions: [String] = []
            for (i, rec) in records.enumerated() {
                let context = "record \(i): \(JSON.object(rec).serialized())"
                #expect(rec["conversation_id"]?.stringValue == "gen-a-en-000\(i)", "\(context)")
                #expect(rec["index"]?.intValue == i, "\(context)")
                #expect(rec["status"]?.stringValue == "active", "\(context)")
                #expect(rec["language"]?.stringValue == "en", "\(context)")
                #expect(rec["turns"]?.arrayValue?.isEmpty == true, "\(context)")
                // examples/config.yaml: min_turns 1, max_turns 3.
                #expect((1...3).contains(rec["target_turns"]?.intValue ?? -1), "\(context)")
                let personas = rec["personas"]
                #expect(ExamplePersonas.users.contains(personas?["user_id"]?.stringValue ?? ""), "\(context)")
                #expect(ExamplePersonas.assistants.contains(personas?["assistant_id"]?.stringValue ?? ""), "\(context)")
                #expect(nonEmptyString(personas?["user"]) && nonEmptyString(personas?["assistant"]), "\(context)")
                let pending = rec["pending"]
                #expect(pending?["state"]?.stringValue == "generated", "\(context)")
                #expect(pending?["turn_index"]?.intValue == 1, "\(context)")
                let q = pending?["user_message"]?.stringValue ?? ""
                #expect(!q.trimmingCharacters(in: .whitespaces).isEmpty, "\(context)")
                questions.append(JSONL.normalized(q))
            }
            #expect(JSONL.duplicates(questions).isEmpty, "questions \(questions)")
            #expect(!r.stdout.contains("\\/"), "slashes must not be escaped: \(r)")
        }
    }

    /// Open dialogues get their next question; finished ones pass through byte for byte.
    @Test func writesTheNextQuestionForOpenDialogues() async throws {
        let work = try WorkDir()
        let input = try Fixtures.text("judge_unjudged.jsonl")
        let inputLines = JSONL.lines(input)
        try await withMock(["--seed", "12"]) { mock in
            let r = try await stage("dlg-gen", work, mock, stdin: input)
            try #require(r.status == 0, "\(r)")
            let lines = r.stdoutLines
            try #require(lines.count == 2, "\(r)")
            let open = try JSONL.object(lines[0])
            #expect(open["conversation_id"]?.stringValue == "fx-judge-0000", "\(r)")
            #expect(open["pending"]?["state"]?.stringValue == "generated", "\(r)")
            #expect(open["pending"]?["turn_index"]?.intValue == 2, "\(r)")
            #expect(open["turns"]?.arrayValue?.count == 1, "\(r)")
            #expect(lines[1] == inputLines[1], "a completed dialogue must pass through untouched\n\(r)")
        }
    }

    /// A question dlg-dedup rejected is replaced by a new one, and the old one is remembered.
    @Test func regeneratesARejectedQuestion() async throws {
        let work = try WorkDir()
        var record = try Fixtures.records("dedup_case_whitespace.jsonl")[0]
        record["pending"]?["state"] = "rejected"
        let old = record["pending"]?["user_message"]?.stringValue ?? ""
        try await withMock(["--seed", "13"]) { mock in
            let r = try await stage("dlg-gen", work, mock, stdin: JSONL.text([record]))
            try #require(r.status == 0, "\(r)")
            let out = try #require(try JSONL.records(r.stdout).first, "\(r)")
            #expect(out["status"]?.stringValue == "active", "\(r)")
            let pending = out["pending"]
            #expect(pending?["state"]?.stringValue == "generated", "\(r)")
            #expect(pending?["attempt"]?.intValue == 2, "\(r)")
            #expect(pending?["user_message"]?.stringValue != old, "\(r)")
            let rejected = pending?["rejected_questions"]?.arrayValue?.compactMap(\.stringValue) ?? []
            #expect(rejected.contains(old), "\(r)")
        }
    }

    /// After coverage.question_dedup_retries rejections the dialogue is dropped, not retried forever.
    @Test func dropsTheDialogueWhenDedupRetriesRunOut() async throws {
        let work = try WorkDir()
        try work.setConfig("coverage.question_dedup_retries", "1")
        var record = try Fixtures.records("dedup_case_whitespace.jsonl")[0]
        record["pending"]?["state"] = "rejected"
        record["pending"]?["attempt"] = 2
        try await withMock(["--seed", "14"]) { mock in
            let r = try await stage("dlg-gen", work, mock, stdin: JSONL.text([record]))
            try #require(r.status == 0, "\(r)")
            let out = try #require(try JSONL.records(r.stdout).first, "\(r)")
            #expect(out["status"]?.stringValue == "dropped", "\(r)")
            #expect(out["drop_reason"]?.stringValue == "dedup_exhausted", "\(r)")
            let stats = try await mock.stats()
            #expect(stats["agents"]?["qa_generator"]?.intValue == 0, "no question may be asked for: \(stats.serialized())")
        }
    }

    /// One document of one chunk, one persona, fixed turn counts, no seed topics: every new dialogue sends
    /// the same prompt. The per-dialogue request seed still gives each its own question (the mock, like
    /// a sampling server, answers another seed with another sample); a server that refuses `seed` is
    /// asked again without it, and then the identical prompts give identical questions.
    @Test func identicalPromptsStillSampleApart() async throws {
        let work = try WorkDir()
        try work.remove("knowledge")
        try work.write("knowledge/kettles.md", "Descale a kettle monthly with a cup of vinegar in water; boil, wait an hour, rinse twice.\n")
        try work.write("personas.yaml", """
            personas:
              user: [{id: cook, name: Home cook, traits: [practical], style: asks short questions}]
              assistant: [{id: helper, name: Helper, traits: [clear], style: answers briefly}]
            """)
        try work.setConfig("run.seed_topics_enabled", "false")
        try work.setConfig("run.min_turns", "2")
        try work.setConfig("run.max_turns", "2")
        func questions(_ mockOptions: [String]) async throws -> [String] {
            try await withMock(mockOptions) { mock in
                // Without the response cache: each call must reach this mock.
                let r = try await stage("dlg-gen", work, mock, ["--new", "6", "--language", "en", "--run-id", "same", "--no-cache"])
                try #require(r.status == 0, "\(r)")
                let records = try JSONL.records(r.stdout)
                try #require(records.count == 6 && records.allSatisfy { $0["pending"]?["state"] == "generated" }, "\(r)")
                return records.map { JSONL.normalized($0["pending"]?["user_message"]?.stringValue ?? "") }
            }
        }
        let seeded = try await questions(["--seed", "15"])
        #expect(Set(seeded).count == 6, "\(seeded)")
        let refused = try await questions(["--seed", "15", "--no-seed-support"])
        #expect(Set(refused).count == 1, "the prompts are meant to be identical: \(refused)")
        let log = try work.read("logs/llm.log")
        #expect(log.contains("status=400"), "the refusal is logged")
        #expect(!log.contains("dropped"), "\(log)")
        // `llm.extra: {seed: null}` turns the per-call seed off.
        try work.setConfig("llm.extra", "{seed: null}")
        let unseeded = try await questions(["--seed", "15"])
        #expect(Set(unseeded).count == 1, "\(unseeded)")
    }

    /// Upstream's seeds-migrate: a legacy JSON file becomes the versioned YAML that dlg-gen then reads;
    /// an existing destination is kept unless --overwrite.
    @Test func migrateSeedsWritesTheVersionedFileDlgGenReads() async throws {
        let work = try WorkDir(label: "seeds-migrate")
        try work.write("seed_topics.json", """
            {"kettles": {"english": ["How often should I descale my kettle?"], "france": ["Quand détartrer ma bouilloire ?"]},
             "bread": ["Why does my dough not rise?"]}
            """)
        try work.setConfig("run.seed_topics_path", "data/seeds/migrated.yaml")
        try work.setConfig("run.seed_topics_probability", "1")
        let migrated = try await stage("dlg-gen", work, nil, ["--migrate-seeds"])
        try #require(migrated.status == 0, "\(migrated)")
        #expect(migrated.stdout.isEmpty && migrated.stderr.contains("3 question(s) in 2 topic(s), 2 variant(s)"), "\(migrated)")
        let yaml = try work.read("data/seeds/migrated.yaml")
        for line in ["version: 1", "final_fallback: english", "  france: france", "  fr: france", "variants:",
                     "- How often should I descale my kettle?", "- Quand détartrer ma bouilloire ?"] {
            #expect(yaml.contains(line), "missing \(line):\n\(yaml)")
        }
        let again = try await stage("dlg-gen", work, nil, ["--migrate-seeds"])
        #expect(again.status == 64 && again.stderr.contains("--overwrite"), "\(again)")
        let replaced = try await stage("dlg-gen", work, nil, ["--migrate-seeds", "--overwrite"])
        #expect(replaced.status == 0, "\(replaced)")

        // The migrated file drives the first questions: every seed question of the language is used once.
        try await withMock(["--seed", "16"]) { mock in
            let r = try await stage("dlg-gen", work, mock, ["--new", "2", "--language", "en", "--run-id", "seeded"])
            try #require(r.status == 0, "\(r)")
            let seeds = Set(try JSONL.records(r.stdout).compactMap { $0["pending"]?["seed_question"]?.stringValue })
            #expect(seeds == ["How often should I descale my kettle?", "Why does my dough not rise?"], "\(seeds)")
            let fr = try await stage("dlg-gen", work, mock, ["--new", "1", "--language", "fr", "--run-id", "seeded-fr"])
            #expect(try JSONL.records(fr.stdout).first?["pending"]?["seed_question"] == "Quand détartrer ma bouilloire ?", "\(fr)")
        }
    }

    /// --migrate-seeds on a missing or unreadable source names the file: 66 and 65.
    @Test func migrateSeedsNamesABadSource() async throws {
        let work = try WorkDir(label: "seeds-bad")
        let missing = try await stage("dlg-gen", work, nil, ["--migrate-seeds", "--source-file", "nowhere.json"])
        #expect(missing.status == 66 && missing.stderr.contains("nowhere.json"), "\(missing)")
        try work.write("broken.json", "{\"kettles\": \"not a list\"}")
        let broken = try await stage("dlg-gen", work, nil, ["--migrate-seeds", "--source-file", "broken.json",
                                                            "--dest-file", "out.yaml"])
        #expect(broken.status == 65 && broken.stderr.contains("broken.json") && broken.stderr.contains("kettles"), "\(broken)")
        #expect(!work.exists("out.yaml"), "nothing is written from a bad source")
    }
}
