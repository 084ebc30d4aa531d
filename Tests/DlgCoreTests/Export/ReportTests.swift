import DlgTestSupport
import Foundation
import Testing
@testable import DlgCore

@Suite struct ReportTests {
    /// Settings whose output folder is a fresh temporary folder.
    static func settings(_ extra: String = "") throws -> (ConfigFixture, Settings) {
        let f = try ConfigFixture("run:\n  target_languages: [en, fr]\n" + extra)
        return (f, try f.load())
    }

    /// The text of each `<script type="application/json" id="...">` block.

    static func hostile(_ id: String) -> JSONObject {
        var r = JudgedRecords.make(id, scores: [4], reasons: [["vague"]])
        var turns = r["turns"]!.arrayValue!
        turns[0]["user_message"] = "What does </script><script>window.pwned=1</script> do? <!-- and </SCRIPT >"
        turns[0]["tool_events"] = [.obj(["id": "t1", "name": "vector_db_search", "arguments": .obj(["query": "q", "k": 2]),
                                         "result": .obj(["query": "q", "results": [
                                             .obj(["source": "a.md", "chunk_index": 0, "content": "Passage A </script>"]),
                                             .obj(["source": "b.md", "chunk_index": 3, "content": "Passage B"])]])]),
                                  .obj(["id": "t2", "name": "vector_db_search", "arguments": .obj(["query": "q2", "k": 1]),
                                        "result": .obj(["query": "q2", "results": [
                                            .obj(["source": "a.md", "chunk_index": 0, "content": "Passage A </script>"])]])])]
        r["turns"] = .array(turns)
        return r
    }

    @Test func dialogueTextCannotCloseItsScriptElement() throws {
        let (f, settings) = try Self.settings()
        defer { f.cleanup() }
        let builder = try ReportBuilder(settings: settings, path: f.dir + "/report.html")
        try builder.add(Self.hostile("x-en-0000"))
        _ = try builder.finish(.init(runID: "x", source: "test"))
        let html = try String(contentsOfFile: f.dir + "/report.html", encoding: .utf8)
        // Our own elements only: 5 scripts (error catcher, 4 data blocks... and the page script).
        let closings = html.components(separatedBy: "</script>").count - 1
        #expect(closings == 6, "\(closings) </script> in the page")
        #expect(!html.contains("window.pwned=1</script>"))
        let blocks = ReportHTML.dataBlocks(html)
        #expect(Set(blocks.keys) == ["dlg-dialogues", "dlg-passages", "dlg-personas", "dlg-summary"])
        let dialogues = try #require(try JSONCodec.parse(Array(blocks["dlg-dialogues"]!.utf8)).arrayValue)
        #expect(dialogues.count == 1)
        #expect(dialogues[0]["turns"]?.arrayValue?[0]["q"]?.stringValue == "What does </script><script>window.pwned=1</script> do? <!-- and </SCRIPT >")
    }

    @Test func passagesAndPersonasAreWrittenOnce() throws {
        let (f, settings) = try Self.settings()
        defer { f.cleanup() }
        let builder = try ReportBuilder(settings: settings, path: f.dir + "/report.html")
        try builder.add(Self.hostile("x-en-0000"))
        try builder.add(Self.hostile("x-en-0001"))
        try builder.add(Self.hostile("x-en-0001"))   // again: skipped
        let summary = try builder.finish(.init(runID: "x", source: "test"))
        #expect(summary.dialogues == 2)
        let blocks = ReportHTML.dataBlocks(try String(contentsOfFile: f.dir + "/report.html", encoding: .utf8))
        let passages = try JSONCodec.parse(Array(blocks["dlg-passages"]!.utf8)).arrayValue ?? []
        #expect(passages.map { $0["source"]?.stringValue ?? "" } == ["a.md", "b.md"], "\(passages)")
        #expect(passages[0]["text"]?.stringValue == "Passage A </script>")
        let personas = try JSONCodec.parse(Array(blocks["dlg-personas"]!.utf8)).arrayValue ?? []
        #expect(personas.count == 2)
        let d = try JSONCodec.parse(Array(blocks["dlg-dialogues"]!.utf8)).arrayValue ?? []
        #expect(d[1]["turns"]?.arrayValue?[0]["tools"]?.arrayValue?[0]["passages"] == [0, 1])
        #expect(d[1]["turns"]?.arrayValue?[0]["tools"]?.arrayValue?[1]["passages"] == [0])
        #expect(d[1]["user"] == 0 && d[1]["assistant"] == 1)
    }

    @Test func theSummaryCountsWhatTheRunHolds() throws {
        let (f, settings) = try Self.settings("saving:\n  filters:\n    min_judge_score: 7\n")
        defer { f.cleanup() }
        let builder = try ReportBuilder(settings: settings, path: f.dir + "/report.html")
        try builder.add(JudgedRecords.make("r-en-0000", scores: [7, 9], reasons: [[], ["vague"]]))
        try builder.add(JudgedRecords.make("r-en-0001", scores: [3], reasons: [["unsafe", "vague"]]))
        try builder.add(JudgedRecords.make("r-fr-0000", scores: [nil], language: "fr"))
        var dropped = JudgedRecords.make("r-fr-0001", scores: [8], language: "fr", status: "dropped")
        dropped["drop_reason"] = "empty_answer"
        try builder.add(dropped)
        var info = ReportBuilder.RunInfo(runID: "r", source: "test")
        info.wallSeconds = 12.345
        let summary = try builder.finish(info)
        #expect(summary.completed == 3 && summary.dropped == 1 && summary.dialogues == 4)
        #expect(summary.filtered?.kept == 1 && summary.filtered?.removed == [.minJudgeScore: 2])
        let blocks = ReportHTML.dataBlocks(try String(contentsOfFile: f.dir + "/report.html", encoding: .utf8))
        let s = try JSONCodec.parse(Array(blocks["dlg-summary"]!.utf8))
        #expect(s["turns"] == 4)
        #expect(s["languages"] == [.obj(["language": "en", "completed": 2, "dropped": 0, "active": 0]),
                                   .obj(["language": "fr", "completed": 1, "dropped": 1, "active": 0])])
        #expect(s["drop_reasons"] == .obj(["empty_answer": 1]))
        #expect(s["judge_reasons"] == .obj(["unsafe": 1, "vague": 2]))
        #expect(s["score_distribution"]?["8"] == 1 && s["score_distribution"]?["3"] == 1)
        #expect(s["mean_score"] == 5.5)
        #expect(s["wall_seconds"] == 12.35)
        #expect(s["filters"]?["kept"] == 1)
        let charts = s["charts"]?.arrayValue ?? []
        #expect(charts.map { $0["key"]?.stringValue ?? "" } == ["score", "reasons", "turns", "dropped"])
        #expect(charts.allSatisfy { ($0["svg"]?.stringValue ?? "").hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\"") })
        let d = try JSONCodec.parse(Array(blocks["dlg-dialogues"]!.utf8)).arrayValue ?? []
        #expect(d.map { $0["filter"] ?? "absent" } == [.null, "min_judge_score", "min_judge_score", "absent"])
        #expect(d.map { $0["score"] ?? "absent" } == [8.0, 3.0, .null, 8.0])
    }

    @Test func thePageLoadsNothingFromElsewhere() throws {
        let html = ReportAssets.head + ReportAssets.script
        #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'"))
        for needle in ["src=", "href=", "@import", "url(", "http://", "https://", "fetch(", "XMLHttpRequest", "<link"] {
            #expect(!html.contains(needle), "the page's own code has \(needle)")
        }
    }

    @Test func theJournalGivesEachDialoguesLatestLineWithoutATornLine() throws {
        let dir = try WorkDir(copyExamples: false, label: "report-journal")
        var a = JudgedRecords.make("j-en-0000", scores: [], status: "active")
        let b = JudgedRecords.make("j-en-0001", scores: [5])
        var lines = [a, b].map { JSON.object($0).serialized() }
        a = JudgedRecords.make("j-en-0000", scores: [9])
        lines.append(JSON.object(a).serialized())
        try dir.write("journal.jsonl", lines.joined(separator: "\n") + "\n{\"conversation_id\":\"j-en-0002\",\"tur")
        var seen: [(String, Int)] = []
        try RunReport.latestRecords(ofJournal: dir.file("journal.jsonl").path) { (r: JSONObject) throws(DlgError) in
            seen.append((Record.id(r), Record.turns(r).count))
        }
        #expect(seen.map(\.0) == ["j-en-0001", "j-en-0000"])
        #expect(seen.map(\.1) == [1, 1])
    }

    @Test func logLinesGiveTokensPerAgentAndTheSpan() throws {
        let dir = try WorkDir(copyExamples: false, label: "report-logs")
        try dir.write("llm.log", """
        2026-12-01 09:40:36,372 | INFO | dlg.llm | agent=qa_generator endpoint=default model=m status=200 ms=372 prompt_tokens=100 completion_tokens=10 served_by=m http_attempt=1 conversation=r-en-0000 turn=1 attempt=1
        2026-12-01 09:40:37,000 | WARNING | dlg.llm | agent=kb_responder endpoint=default status=500 ms=5 http_attempt=1 conversation=r-en-0000 turn=1 attempt=1 body=oops
        2026-12-01 09:40:38,500 | INFO | dlg.llm | agent=kb_responder endpoint=default model=m status=200 ms=20 prompt_tokens=300 completion_tokens=30 served_by=m http_attempt=2 conversation=r-en-0000 turn=1 attempt=1
        2026-12-01 09:50:00,000 | INFO | dlg.llm | agent=qa_generator endpoint=default model=m status=200 ms=20 prompt_tokens=999 completion_tokens=99 served_by=m http_attempt=1 conversation=other-en-0000 turn=1 attempt=1

        """)
        let (agents, span) = RunReport.agentUsage(logsDir: dir.path, ids: ["r-en-0000"])
        var gen = ReportBuilder.AgentUsage(agent: "qa_generator")
        gen.requests = 1; gen.promptTokens = 100; gen.completionTokens = 10
        var kb = ReportBuilder.AgentUsage(agent: "kb_responder")
        kb.requests = 1; kb.failed = 1; kb.promptTokens = 300; kb.completionTokens = 30
        #expect(agents == [gen, kb])
        #expect(abs((span ?? 0) - 2.5) < 0.001, "\(String(describing: span))")
    }

    /// The wall time is what each dlg-run of the run wrote to logs/runs.jsonl (`RunTimings`), added
    /// up; other runs' lines and lines that are not JSON count for nothing.
    @Test func wallTimeAddsUpTheRunsLines() throws {
        let dir = try WorkDir(copyExamples: false, label: "report-runs")
        let layout = RunLayout(outputDir: dir.path + "/outputs", logsDir: dir.path + "/logs")
        #expect(RunReport.wallTime(layout: layout, runID: "r") == nil)
        try RunTimings.append(layout: layout, runID: "r", shard: nil, wallSeconds: 12.5)
        #expect(RunReport.wallTime(layout: layout, runID: "r")! == (12.5, "logs/runs.jsonl"))
        try RunTimings.append(layout: layout, runID: "other", shard: nil, wallSeconds: 100)
        try RunTimings.append(layout: layout, runID: "r", shard: try RunShard(parsing: "1/2"), wallSeconds: 2.25)
        let lines = try dir.read("logs/runs.jsonl").split(separator: "\n")
        #expect(lines.count == 3)
        let last = try JSONCodec.parse(Array(lines[2].utf8))
        #expect(last["shard"] == "1/2" && last["run_id"] == "r" && last["wall_seconds"] == 2.25, "\(last)")
        #expect(RunReport.wallTime(layout: layout, runID: "r")! == (14.75, "logs/runs.jsonl, 2 dlg-run invocations added up"))
        #expect(RunReport.wallTime(layout: layout, runID: "none") == nil)
    }
}
