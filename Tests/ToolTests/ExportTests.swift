// dlg-export: upstream's output files, with upstream's fields, from completed dialogues only.

import DlgCore
import DlgTestSupport
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

@Suite("dlg-export") struct ExportTests {
    /// export_records.jsonl: two completed dialogues (3 turns and 1 turn), one dropped, one still open.
    static let completedIDs = ["fx-export-0000", "fx-export-0001"]

    @Test func writesEveryFileWithUpstreamFields() async throws {
        let work = try WorkDir()
        let r = try await stage("dlg-export", work, nil, [Fixtures.path("export_records.jsonl")])
        try #require(r.status == 0, "\(r)")
        let summary = try JSONL.object(r.stdout)
        #expect(summary["conversations"]?.intValue == 2, "\(r)")
        #expect(summary["turns"]?.intValue == 4, "\(r)")
        #expect(summary["output_dir"]?.stringValue.map { $0.hasSuffix("/outputs") } == true, "\(r)")

        for name in datasetFiles { #expect(work.exists("outputs/\(name)"), "outputs/\(name) missing") }
        #expect(work.files(under: "outputs/conversations") == Self.completedIDs.map { "\($0).json" },
                "only completed dialogues get a conversation file: \(work.files(under: "outputs/conversations"))")
        #expect(temporaryFiles(work).isEmpty, "\(temporaryFiles(work))")

        // synthetic_qa.jsonl
        let synthetic = try work.records("outputs/synthetic_qa.jsonl")
        #expect(synthetic.map { $0["conversation_id"]?.stringValue ?? "" } == Self.completedIDs)
        let s = try #require(synthetic.first)
        #expect(missing(UpstreamKeys.syntheticQA, in: s.keySet).isEmpty, "synthetic_qa keys: missing \(missing(UpstreamKeys.syntheticQA, in: s.keySet))")
        #expect(missing(UpstreamKeys.inputs, in: keys(s["inputs"])) == [], "inputs: missing \(missing(UpstreamKeys.inputs, in: keys(s["inputs"])))")
        let payloads = s["turns"]?.arrayValue ?? []
        #expect(payloads.count == 3)
        for p in payloads {
            #expect(missing(UpstreamKeys.turnPayload, in: p.keySet).isEmpty, "turn payload: missing \(missing(UpstreamKeys.turnPayload, in: p.keySet))")
            for e in p["tool_events"]?.arrayValue ?? [] {
                #expect(missing(UpstreamKeys.toolEvent, in: e.keySet).isEmpty, "tool event keys \(e.keySet.sorted())")
            }
        }
        let history = s["conversation_history"]?.arrayValue ?? []
        #expect(history.count == 6)
        for h in history {
            let expected = h["role"]?.stringValue == "user" ? UpstreamKeys.historyUser : UpstreamKeys.historyAssistant
            #expect(missing(expected, in: h.keySet).isEmpty, "history entry keys \(h.keySet.sorted())")
        }
        for m in s["messages"]?.arrayValue ?? [] {
            #expect(missing(["role", "content", "turn_index"], in: m.keySet).isEmpty, "message keys \(m.keySet.sorted())")
        }
        let rawResults = s["raw_results"]?.arrayValue ?? []
        #expect(rawResults.count == 3)
        for e in rawResults {
            #expect(e.keySet == UpstreamKeys.rawResult, "raw_results entry keys \(e.keySet.sorted())")
            // Without saving.raw_completions the completions are not kept: upstream's keys, empty.
            #expect(e["qa_raw"] == .obj([:]) && e["kb_raw"] == .obj([:]) && e["judge_raw"] == .obj([:]))
        }

        // turns.jsonl
        let turns = try work.records("outputs/turns.jsonl")
        #expect(turns.count == 4)
        let t = try #require(turns.first)
        #expect(missing(UpstreamKeys.turnsRow, in: t.keySet).isEmpty, "turns.jsonl: missing \(missing(UpstreamKeys.turnsRow, in: t.keySet))")
        for p in t["reasoning_trace"]?["premises"]?.arrayValue ?? [] {
            #expect(missing(UpstreamKeys.premise, in: p.keySet).isEmpty, "premise keys \(p.keySet.sorted())")
        }
        #expect(turns.map { "\($0["conversation_id"]?.stringValue ?? "")#\($0["turn_index"]?.intValue ?? -1)" }
                == ["fx-export-0000#1", "fx-export-0000#2", "fx-export-0000#3", "fx-export-0001#1"])

        // conversations_sharegpt.jsonl and the judged variant
        let sharegpt = try work.records("outputs/conversations_sharegpt.jsonl")
        #expect(sharegpt.count == 2)
        let g = try #require(sharegpt.first)
        #expect(g.keySet == UpstreamKeys.sharegpt, "sharegpt keys \(g.keys)")
        #expect(missing(UpstreamKeys.metadata, in: keys(g["metadata"])) == [], "metadata: missing \(missing(UpstreamKeys.metadata, in: keys(g["metadata"])))")
        #expect(missing(UpstreamKeys.personas, in: keys(g["metadata"]?["personas"])) == [])
        for m in g["messages"]?.arrayValue ?? [] {
            #expect(["user", "assistant"].contains(m["role"]?.stringValue ?? ""), "\(m.serialized())")
            #expect(m["content"]?.stringValue != nil, "\(m.serialized())")
        }
        for u in g["user_reasoning"]?.arrayValue ?? [] {
            #expect(missing(UpstreamKeys.userReasoning, in: u.keySet).isEmpty, "user_reasoning keys \(u.keySet.sorted())")
        }
        for a in g["assistant_reasoning"]?.arrayValue ?? [] {
            #expect(missing(UpstreamKeys.assistantReasoning, in: a.keySet).isEmpty, "assistant_reasoning keys \(a.keySet.sorted())")
        }
        checkMessagesWithTools(g["messages_with_tools"]?.arrayValue ?? [], turns: payloads)

        let judged = try work.records("outputs/conversations_sharegpt_judged.jsonl")
        #expect(judged.count == 2, "judge.mode online: every dialogue is in the judged file")
        let j = try #require(judged.first)
        #expect(j.keySet == UpstreamKeys.sharegpt.union(["judge"]), "judged keys \(j.keys)")
        #expect(missing(UpstreamKeys.judgeColumn, in: keys(j["judge"])) == [], "judge column \(j["judge"]?.keySet.sorted() ?? [])")
        for p in j["judge"]?["per_turn"]?.arrayValue ?? [] {
            #expect(missing(UpstreamKeys.judgePerTurn, in: p.keySet).isEmpty, "per_turn keys \(p.keySet.sorted())")
        }

        // conversations_index.jsonl and conversations/<id>.json
        let index = try work.records("outputs/conversations_index.jsonl")
        #expect(index.map { $0["conversation_id"]?.stringValue ?? "" } == Self.completedIDs)
        for line in index {
            #expect(missing(UpstreamKeys.index, in: line.keySet).isEmpty, "index keys \(line.keys)")
            let file = line["conversation_file"]?.stringValue ?? ""
            #expect(!file.hasPrefix("/") && work.exists(file), "conversation_file \(file) is not a file relative to the project root")
        }
        let conversation = try JSONL.object(try work.read("outputs/conversations/fx-export-0000.json"))
        #expect(missing(UpstreamKeys.conversationFile, in: conversation.keySet).isEmpty,
                "conversation file: missing \(missing(UpstreamKeys.conversationFile, in: conversation.keySet))")
        #expect(conversation["n_turns"]?.intValue == 3)
    }

    /// Upstream's messages_with_tools: user, then (when tools ran) an assistant tool_calls message and
    /// one tool message per event, then the assistant's answer.
    func checkMessagesWithTools(_ messages: [JSON], turns: [JSON], sourceLocation: SourceLocation = #_sourceLocation) {
        var i = 0
        for turn in turns {
            let events = turn["tool_events"]?.arrayValue ?? []
            guard i < messages.count, messages[i]["role"]?.stringValue == "user" else {
                Issue.record("expected a user message at \(i)", sourceLocation: sourceLocation); return
            }
            i += 1
            if !events.isEmpty {
                let call = i < messages.count ? messages[i] : .null
                #expect(call["role"]?.stringValue == "assistant", "\(call.serialized())", sourceLocation: sourceLocation)
                let calls = call["tool_calls"]?.arrayValue ?? []
                #expect(calls.count == events.count, "\(call.serialized())", sourceLocation: sourceLocation)
                for c in calls {
                    #expect(c["type"]?.stringValue == "function" && c["function"]?["arguments"]?.stringValue != nil,
                            "tool call \(c.serialized())", sourceLocation: sourceLocation)
                }
                i += 1
                for _ in events {
                    let tool = i < messages.count ? messages[i] : .null
                    #expect(tool["role"]?.stringValue == "tool" && tool["tool_call_id"] != nil && tool["content"]?.stringValue != nil,
                            "\(tool.serialized())", sourceLocation: sourceLocation)
                    i += 1
                }
            }
            let answer = i < messages.count ? messages[i] : .null
            #expect(answer["role"]?.stringValue == "assistant" && answer["content"] == turn["kb_answer"]?["assistant_message"],
                    "\(answer.serialized())", sourceLocation: sourceLocation)
            i += 1
        }
        #expect(i == messages.count, "\(messages.count - i) extra message(s)", sourceLocation: sourceLocation)
    }

    /// Exporting again (a resumed run does) rewrites the files: the same lines, none twice; stdin works
    /// as well as file arguments.
    @Test func exportingAgainGivesTheSameFiles() async throws {
        let work = try WorkDir()
        let first = try await stage("dlg-export", work, nil, [Fixtures.path("export_records.jsonl")])
        try #require(first.status == 0, "\(first)")
        var before: [String: String] = [:]
        for name in datasetFiles { before[name] = try work.read("outputs/\(name)") }
        let second = try await stage("dlg-export", work, nil, stdin: try Fixtures.text("export_records.jsonl"))
        try #require(second.status == 0, "\(second)")
        #expect(second.stdout == first.stdout, "\(second)")
        for name in datasetFiles {
            #expect(try work.read("outputs/\(name)") == before[name], "outputs/\(name) changed on the second export")
        }
    }

    /// A writer killed between writing its temporary and renaming it (a SIGKILLed dlg-run during its
    /// export) leaves `<file>.tmp.<pid>` beside the dataset. The next export, which rewrites every file
    /// whole, must not leave them there: they are not part of the dataset, and globbing
    /// `conversations/*` or uploading `outputs/` would pick them up.
    @Test func staleTemporariesOfAKilledExportAreRemoved() async throws {
        let work = try WorkDir()
        let stale = ["outputs/turns.jsonl.tmp.999999", "outputs/conversations/fx-export-0000.json.tmp.999999"]
        for f in stale { try work.write(f, "{\"half\":") }
        let r = try await stage("dlg-export", work, nil, [Fixtures.path("export_records.jsonl")])
        try #require(r.status == 0, "\(r)")
        #expect(temporaryFiles(work).isEmpty, "stale temporaries still in outputs/: \(temporaryFiles(work))")
    }

    /// saving.output_columns renames the ShareGPT columns (upstream's option), in both ShareGPT files.
    @Test func outputColumnsRenameTheShareGPTColumns() async throws {
        let work = try WorkDir()
        try work.setConfig("saving.output_columns", "{messages: conversation, metadata: meta}")
        let r = try await stage("dlg-export", work, nil, [Fixtures.path("export_records.jsonl")])
        try #require(r.status == 0, "\(r)")
        let renamed: Set<String> = ["conversation", "messages_with_tools", "meta", "user_reasoning", "assistant_reasoning"]
        let plain = try #require(try work.records("outputs/conversations_sharegpt.jsonl").first)
        #expect(plain.keySet == renamed, "\(plain.keys)")
        let judged = try #require(try work.records("outputs/conversations_sharegpt_judged.jsonl").first)
        #expect(judged.keySet == renamed.union(["judge"]), "\(judged.keys)")
    }

    /// With `saving.raw_completions` every raw_results entry carries the agents' whole chat
    /// completions, as upstream's do; conversation judging adds its final entry.
    @Test func rawCompletionsAreKeptWhenAsked() async throws {
        let work = try smallProject(label: "export-raw", total: 2, batch: 2)
        try work.setConfig("judge.granularity", "conversation")
        try work.setConfig("saving.raw_completions", "true")
        try await withMock(["--seed", "61"]) { mock in
            let (r, summary) = try await runDlgRun(work, mock, runID: "raw")
            try #require(r.status == 0, "\(r)")
            #expect(summary?["completed"]?["en"]?.intValue == 2, "\(r)")
        }
        for s in try work.records("outputs/synthetic_qa.jsonl") {
            let entries = s["raw_results"]?.arrayValue ?? []
            let turns = s["turns"]?.arrayValue?.count ?? 0
            try #require(entries.count == turns + 1, "one entry per turn and the conversation judge's: \(entries.count)")
            for e in entries.dropLast() {
                #expect(e.keySet == UpstreamKeys.rawResult)
                for key in ["qa_raw", "kb_raw"] {
                    #expect(e[key]?["object"] == "chat.completion" && e[key]?["choices"]?.arrayValue?.isEmpty == false,
                            "\(key): \(e[key]?.serialized().prefix(300) ?? "nil")")
                    #expect(e[key]?["usage"]?["completion_tokens"]?.intValue != nil)
                }
                #expect(e["judge_raw"] == .obj([:]), "turns are not judged one by one in conversation mode")
            }
            let last = try #require(entries.last)
            #expect(last.keySet == ["conversation_judge_raw", "conversation_judge"])
            #expect(last["conversation_judge_raw"]?["object"] == "chat.completion")
            #expect(last["conversation_judge"]?["score"]?.intValue != nil)
        }
    }

    /// `dlg-export --hub`: upstream's Hugging Face export folder, with stats that agree with the data,
    /// four SVG charts, and a card naming the data's own languages.
    @Test func hubExportWritesTheFolderUpstreamPushes() async throws {
        let work = try WorkDir(label: "export-hub")
        try work.setConfig("run.total_samples", "3")
        try work.setConfig("run.batch_size", "3")
        try work.setConfig("saving.hf_push", "{repo_id: acme/kettle-dialogues, generate_stats: true, generate_plots: true}")
        let early = try await stage("dlg-export", work, nil, ["--hub"])
        #expect(early.status == 66 && early.stderr.contains("no dataset file"), "\(early)")
        try await withMock(["--seed", "62"]) { mock in
            let (r, _) = try await runDlgRun(work, mock, runID: "hub")
            try #require(r.status == 0, "\(r)")
        }
        let r = try await stage("dlg-export", work, nil, ["--hub", "--include-run-state"])
        try #require(r.status == 0, "\(r)")
        let summary = try JSONL.object(r.stdout)
        #expect(summary["records"]?.intValue == 6, "\(r)")
        let dir = "outputs/hf_export"
        let data = try work.records("\(dir)/conversations_sharegpt_judged.jsonl")
        #expect(data.count == 6)
        #expect(work.exists("\(dir)/run_state/hub/finished.jsonl"))

        let stats = try JSONL.object(try work.read("\(dir)/dataset_stats.json"))
        #expect(stats["records"]?.intValue == 6)
        #expect(stats["languages"] == .obj(["en": 3, "fr": 3]), "\(stats["languages"]?.serialized() ?? "")")
        let turns = data.map { $0["metadata"]?["n_turns"]?.intValue ?? -1 }
        #expect(stats["turn_count"]?["min"]?.intValue == turns.min() && stats["turn_count"]?["max"]?.intValue == turns.max())
        let judge = try #require(stats["judge"])
        let buckets = (judge["avg_score_distribution"]?.objectValue?.pairs ?? []).map { $0.value.intValue ?? 0 }
        #expect(buckets.count == 11 && buckets.reduce(0, +) == judge["conversations_with_scores"]?.intValue)
        let words = (stats["text"]?["word_count_distribution"]?.objectValue?.pairs ?? []).map { $0.value.intValue ?? 0 }
        #expect(words.reduce(0, +) == 6 && words.count <= 12, "\(stats["text"]?.serialized() ?? "")")

        for name in ["turn_count_distribution", "judge_avg_score_distribution", "word_count_distribution", "token_estimate_distribution"] {
            let svg = try work.read("\(dir)/plots/\(name).svg")
            #expect(svg.hasPrefix("<svg ") && svg.contains("fill=\"#2f6fed\""), "\(name).svg")
            #expect(XMLParser(data: Data(svg.utf8)).parse(), "\(name).svg is not well-formed")
        }
        let card = try work.read("\(dir)/README.md")
        for line in ["    path: conversations_sharegpt_judged.jsonl", "language:\n- en\n- fr\n", "# kettle-dialogues",
                     "![judge_avg_score_distribution.svg](plots/judge_avg_score_distribution.svg)"] {
            #expect(card.contains(line), "card lacks \(line):\n\(card)")
        }
        // Again: the folder is replaced, not added to.
        let again = try await stage("dlg-export", work, nil, ["--hub"])
        #expect(again.status == 0, "\(again)")
        #expect(!work.exists("\(dir)/run_state"), "the new export has no run state unless asked")
        #expect(work.files(under: "outputs").allSatisfy { !$0.contains(".tmp.") })
    }
}
