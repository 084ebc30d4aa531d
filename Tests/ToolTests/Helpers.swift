// Shared pieces of the tool tests: fixtures, a mock per test, running a stage in a work dir.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// Fixture files beside this file, in Fixtures/.
enum Fixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static func text(_ name: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path(name)) else {
            throw HarnessError("fixture \(name) not found in \(dir.path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func records(_ name: String) throws -> [JSONObject] { try JSONL.records(try text(name)) }
}

/// Runs `tool --config <work>/config.yaml <args>` in the work dir, against `mock` when given.
func stage(_ tool: String, _ work: WorkDir, _ mock: MockServerProcess?, _ args: [String] = [], stdin: String? = nil,
           env: [String: String] = [:], timeout: Duration = .seconds(120)) async throws -> ToolResult {
    var e = mock?.env ?? [:]
    for (k, v) in env { e[k] = v }
    return try await runTool(tool, args: ["--config", work.configPath] + args, stdin: stdin.map { Data($0.utf8) },
                             env: e, cwd: work.url, timeout: timeout)
}

/// The persona ids of examples/personas.yaml.
enum ExamplePersonas {
    static let users: Set<String> = ["busy_parent", "curious_student", "careful_beginner"]
    static let assistants: Set<String> = ["patient_tutor", "concise_expert"]
}

/// Upstream's key sets (reference/upstream-facts.md section 8): what users of the Python tool read.
enum UpstreamKeys {
    static let syntheticQA: Set<String> = [
        "conversation_id", "timestamp", "question", "inputs", "qa_generation_plan", "kb_final_answer", "qa_judge",
        "conversation_judge", "turns", "conversation_history", "messages", "raw_result", "raw_results",
    ]
    static let inputs: Set<String> = [
        "question", "target_language", "target_languages", "question_seed", "run_id", "resume_run_id", "total_samples",
        "min_turns", "max_turns", "turn_count_distribution", "turn_count_mean",
        "seed_topics_path", "seed_topics_variant", "seed_topics_probability", "seed_topics_enabled",
        "retrieval_default_k", "user_persona", "assistant_persona", "user_persona_id", "assistant_persona_id",
        "user_agent_used_name", "assistant_agent_used_name", "judge_enabled", "judge_granularity", "judge_reasons",
        "project_root", "config_dir", "n_turns", "batch_size", "conversation_index", "conversation_status", "drop_reason",
    ]
    static let rawResult: Set<String> = [
        "turn_index", "attempt", "qa_raw", "kb_raw", "judge_raw", "qa_output", "kb_output", "qa_judge",
    ]
    static let turnPayload: Set<String> = [
        "turn_index", "qa_generation", "kb_answer", "qa_judge", "qa_agent_used_name", "kb_agent_used_name",
        "seed_topic", "seed_question", "question_mode", "tool_events",
    ]
    static let toolEvent: Set<String> = ["id", "name", "arguments", "result"]
    static let historyUser: Set<String> = ["turn_index", "role", "message", "agent", "intent", "difficulty", "coverage_target"]
    static let historyAssistant: Set<String> = ["turn_index", "role", "message", "agent", "confidence"]
    static let turnsRow: Set<String> = [
        "conversation_id", "timestamp", "turn_index", "user_message", "assistant_message", "question_mode", "seed_topic",
        "seed_question", "intent", "difficulty", "coverage_target", "grounding_facts", "notes_for_assistant",
        "reasoning_trace", "did_web_search", "judge_granularity", "judge_score", "judge_reasons", "judge_notes",
        "judge_question_ok", "judge_answer_ok", "conversation_judge_score", "conversation_judge_reasons",
    ]
    static let premise: Set<String> = ["id", "text", "evidence_refs", "assumption"]
    static let sharegpt: Set<String> = ["messages", "messages_with_tools", "metadata", "user_reasoning", "assistant_reasoning"]
    static let metadata: Set<String> = [
        "conversation_id", "timestamp", "n_turns", "language", "judge_granularity", "personas", "difficulty_sequence",
        "difficulty_max", "intent_sequence", "coverage_targets", "question_modes", "seed_topics", "seed_questions",
    ]
    static let personas: Set<String> = ["user", "assistant", "user_id", "assistant_id"]
    static let userReasoning: Set<String> = [
        "turn_index", "user_message", "intent", "difficulty", "coverage_target", "grounding_facts", "notes_for_assistant",
        "seed_topic", "seed_question", "question_mode",
    ]
    static let assistantReasoning: Set<String> = ["turn_index", "assistant_message", "reasoning_trace", "did_web_search"]
    static let judgeColumn: Set<String> = ["per_turn", "avg_score", "conversation"]
    static let judgePerTurn: Set<String> = [
        "turn_index", "user_message", "assistant_message", "score", "reasons", "notes", "question_ok", "answer_ok",
    ]
    static let index: Set<String> = ["conversation_id", "timestamp", "n_turns", "seed_question", "language", "conversation_file"]
    static let conversationFile: Set<String> = [
        "conversation_id", "timestamp", "seed_question", "inputs", "n_turns", "language", "personas", "messages",
        "messages_with_tools", "user_reasoning", "assistant_reasoning", "conversation_judge", "turns",
        "conversation_history", "raw_results",
    ]
    static let ledger: Set<String> = [
        "timestamp", "topic_id", "source_path", "question", "question_hash", "question_mode", "seed_topic",
        "seed_question", "seed_question_hash",
    ]
    static let judgeVerdict: Set<String> = ["score", "reasons", "notes", "question_ok", "answer_ok"]
}

/// Keys of `expected` that `actual` lacks, for messages ("missing: a, b").
func missing(_ expected: Set<String>, in actual: Set<String>) -> [String] { expected.subtracting(actual).sorted() }

/// The dataset files dlg-export and dlg-run write under outputs/.
let datasetFiles = [
    "synthetic_qa.jsonl", "turns.jsonl", "conversations_sharegpt.jsonl", "conversations_sharegpt_judged.jsonl",
    "conversations_index.jsonl",
]

/// Checks a judge verdict's shape: score 0-10, reasons from `allowed`, notes, two booleans.
func checkVerdict(_ verdict: JSON?, allowed: Set<String>, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let v = verdict, let o = v.objectValue, !o.isEmpty else {
        Issue.record("no judge verdict: \(context)", sourceLocation: sourceLocation)
        return
    }
    #expect(missing(UpstreamKeys.judgeVerdict, in: o.keySet).isEmpty, "verdict keys \(o.keys): \(context)", sourceLocation: sourceLocation)
    let score = o["score"]?.intValue
    #expect(score.map { (0...10).contains($0) } == true, "score \(String(describing: o["score"])) not in 0...10: \(context)", sourceLocation: sourceLocation)
    let reasons = o["reasons"]?.arrayValue?.compactMap(\.stringValue)
    #expect(reasons != nil, "reasons is not a list of strings: \(context)", sourceLocation: sourceLocation)
    #expect(Set(reasons ?? []).isSubset(of: allowed), "reasons \(reasons ?? []) not within \(allowed.sorted()): \(context)", sourceLocation: sourceLocation)
    #expect(o["notes"]?.stringValue != nil, "notes is not a string: \(context)", sourceLocation: sourceLocation)
    #expect(o["question_ok"]?.boolValue != nil && o["answer_ok"]?.boolValue != nil, "question_ok/answer_ok not booleans: \(context)", sourceLocation: sourceLocation)
}

/// Every file under `work/outputs` whose name says it is a temporary (`x.tmp`, `x.tmp.1234`).
func temporaryFiles(_ work: WorkDir, under folder: String = "outputs") -> [String] {
    work.files(under: folder).filter { ($0 as NSString).lastPathComponent.contains(".tmp") }
}

/// The keys of an optional JSON object (empty when it is missing or not an object).
func keys(_ value: JSON?) -> Set<String> { value?.keySet ?? [] }

/// Whether `value` is a string with something other than whitespace in it.
func nonEmptyString(_ value: JSON?) -> Bool {
    !(value?.stringValue ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
}

/// Starts a Python stand-in of a service (`Fixtures/<script>` with `args`) and waits for the URL it
/// prints on its first line. Throws when there is no python3: `make test` installs it, so a missing one
/// is a broken set-up, not a reason to pass.
func startPythonStandIn(_ what: String, script: String, args: [String]) async throws -> (RunningTool, String) {
    guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw HarnessError("the \(what) stand-in needs python3, which is not installed (scripts/ensure-deps.sh test installs it; Debian: apt-get install python3)")
    }
    let standIn = try RunningTool(python, args: [Fixtures.path(script)] + args)
    let deadline = ContinuousClock.now + .seconds(60)  // Python starting on a loaded machine
    while ContinuousClock.now < deadline {
        if let line = standIn.stdoutText.split(separator: "\n").first, line.hasPrefix("http://") { return (standIn, String(line)) }
        try await Task.sleep(for: .milliseconds(20))
    }
    standIn.kill()
    throw HarnessError("the \(what) stand-in did not start: \(standIn.stderrText)")
}
