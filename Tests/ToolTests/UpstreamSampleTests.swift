// Upstream dlgforge's own sample configs, both generations, run unchanged by dlg-run (issue 15): only
// the servers (through the environment, as a user would) and the sample size (TOTAL_SAMPLES) differ.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("upstream sample configs") struct UpstreamSampleTests {
    static let languages = ["morocco", "msa", "gulf", "english", "levantine"]
    static let arabic: Set<String> = ["morocco", "msa", "gulf", "levantine"]

    /// The example project (knowledge, seed topics) with the fixture as its config.
    func project(_ fixture: String) throws -> WorkDir {
        let work = try WorkDir(label: "upstream")
        try work.writeConfig(try Fixtures.text("upstream/\(fixture)"))
        return work
    }

    /// What both samples must give: every language complete, 2..12 turns, Arabic text for the Arabic
    /// varieties, and a Hub folder (the samples ask for stats and plots) whose card names ISO codes.
    func checkSampleRun(_ work: WorkDir, _ r: ToolResult, perLanguage: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try #require(r.status == 0, "\(r)", sourceLocation: sourceLocation)
        var completed: [String: Int] = [:]
        for l in Self.languages { completed[l] = perLanguage }
        try checkFinishedRun(work, r, summary: try? JSONL.object(r.stdout), completed: completed, sourceLocation: sourceLocation)
        // The samples ask for auto_push_on_run; without a token the upload is a warning after the run.
        #expect(r.stderr.contains("dlg-run: warning: upload to the Hub failed: no Hugging Face token"), "\(r)", sourceLocation: sourceLocation)
        #expect(!r.stderr.contains("unknown config key"), "\(r)", sourceLocation: sourceLocation)
        for row in try work.records("outputs/turns.jsonl") {
            let id = row["conversation_id"]?.stringValue ?? ""
            let language = Self.languages.first { id.contains("-\($0)-") } ?? "?"
            let question = row["user_message"]?.stringValue ?? ""
            let hasArabic = question.unicodeScalars.contains { (0x0600...0x06FF).contains($0.value) }
            #expect(hasArabic == Self.arabic.contains(language), "\(id): \(question)", sourceLocation: sourceLocation)
        }
        for row in try work.records("outputs/conversations_index.jsonl") {
            #expect((2...12).contains(row["n_turns"]?.intValue ?? 0), "\(row)", sourceLocation: sourceLocation)
        }
        let hub = try await stage("dlg-export", work, nil, ["--hub"])
        try #require(hub.status == 0, "\(hub)", sourceLocation: sourceLocation)
        let card = try work.read("outputs/hf_export/README.md")
        #expect(card.contains("language:\n- en\n- afb\n- apc\n- ary\n- arb\n"), "\(card)", sourceLocation: sourceLocation)
        #expect(card.contains("# Synthetic-QA-Reasoning-Multilingual"), sourceLocation: sourceLocation)
        #expect(work.exists("outputs/hf_export/data_stats/plots/turn_count_distribution.svg"), sourceLocation: sourceLocation)
    }

    /// The sample of the version dlgforge-README.md documents: global llm.* keys, n_turns with a range,
    /// the server through LLM_BASE_URL and OPENAI_API_KEY.
    @Test func olderSampleConfigRunsToACompleteDataset() async throws {
        let work = try project("config-0dd68fc.yaml")
        try await withMock(["--seed", "151"]) { mock in
            let env = ["LLM_BASE_URL": mock.baseURL, "OPENAI_API_KEY": "sk-test-older", "TOTAL_SAMPLES": "2",
                       "HF_TOKEN_PATH": "/nonexistent/hf-token"]
            let r = try await stage("dlg-run", work, mock, ["--run-id", "older"], env: env, timeout: .seconds(600))
            try await checkSampleRun(work, r, perLanguage: 2)
            #expect(!r.stderr.contains("sk-test-older"))
            // The no-effect reranker keys are named once.
            #expect(r.stderr.components(separatedBy: "accepted without effect here").count == 2, "\(r)")
        }
    }

    /// Today's sample: run.turns, llm.mode, roles with providers named LiteLLM's way, tools.retrieval
    /// (embeddings from the mock), each role's server and key through its own variables.
    @Test func currentSampleConfigRunsToACompleteDataset() async throws {
        let work = try project("config-9cd6d4f.yaml")
        try await withMock(["--seed", "152"]) { mock in
            let env = [
                "LLM_USER_BASE_URL": mock.baseURL, "LLM_ASSISTANT_BASE_URL": mock.baseURL, "LLM_JUDGE_BASE_URL": mock.baseURL,
                "LLM_USER_API_KEY_ENV": "OPENAI_API_KEY", "OPENAI_API_KEY": "sk-test-user",
                "LLM_ASSISTANT_API_KEY_ENV": "GEMINI_API_KEY", "LLM_JUDGE_API_KEY_ENV": "GEMINI_API_KEY",
                "GEMINI_API_KEY": "test-gemini-key", "TOTAL_SAMPLES": "2", "HF_TOKEN_PATH": "/nonexistent/hf-token",
            ]
            let r = try await stage("dlg-run", work, mock, ["--run-id", "current"], env: env, timeout: .seconds(600))
            try await checkSampleRun(work, r, perLanguage: 2)
            for secret in ["sk-test-user", "test-gemini-key"] {
                #expect(!r.stderr.contains(secret))
                #expect(!(try work.read("logs/llm.log")).contains(secret))
            }
            let first = try #require(try work.records("outputs/synthetic_qa.jsonl").first)
            #expect(first["inputs"]?["user_agent_used_name"] == "openai/gpt-5.2", "\(first["inputs"]?.serialized() ?? "")")
            #expect(first["inputs"]?["assistant_agent_used_name"] == "gemini/gemini-3-flash-preview")
            // Without the assistant's key the run stops before any call, naming the mapping variable.
            var missing = env
            missing["GEMINI_API_KEY"] = nil
            let fresh = try project("config-9cd6d4f.yaml")
            let bad = try await stage("dlg-run", fresh, mock, ["--run-id", "nokey"], env: missing)
            #expect(bad.status == 78 && bad.stderr.contains("LLM_ASSISTANT_API_KEY_ENV names GEMINI_API_KEY"), "\(bad)")
        }
    }

    /// Replies as some servers send them: content as a list of text parts, tool-call arguments as a JSON
    /// object. The run completes and the tool calls keep their arguments.
    @Test func partsContentAndObjectArgumentsRunToACompleteDataset() async throws {
        let work = try smallProject(label: "reply-shapes", total: 3, batch: 3)
        try await withMock(["--seed", "153", "--content-parts", "--object-arguments"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "shapes")
            try #require(r.status == 0, "\(r)")
            try checkFinishedRun(work, r, summary: summary, completed: ["en": 3])
            let stats = try await mock.stats()
            #expect((stats["tool_calls"]?.intValue ?? 0) > 0, "\(stats.serialized())")
            var events = 0
            for rec in try work.records("outputs/synthetic_qa.jsonl") {
                for turn in rec["turns"]?.arrayValue ?? [] {
                    for e in turn["tool_events"]?.arrayValue ?? [] where e["name"] == "vector_db_search" {
                        events += 1
                        #expect(nonEmptyString(e["arguments"]?["query"]), "\(e.serialized())")
                    }
                }
            }
            #expect(events > 0, "no vector_db_search call reached the dataset")
        }
    }
}
