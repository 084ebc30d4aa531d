// report.html in a real browser: the example run against the mock, dlg-export --report, then headless
// Chromium (Debian `chromium`) loads the page from disk, runs its script and dumps the DOM or a screenshot.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

/// Headless Chromium, when installed (`DLG_CHROMIUM` names another binary).
enum Chromium {
    static let binary: String? = {
        if let named = ProcessInfo.processInfo.environment["DLG_CHROMIUM"], !named.isEmpty {
            return FileManager.default.isExecutableFile(atPath: named) ? named : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") + ["/usr/bin"] {
            for name in ["chromium", "chromium-browser"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }()

    /// Loads `url` with scripts run for up to 3 s of virtual time; `mode` is `--dump-dom` or
    /// `--screenshot=<png>`. Each call gets a fresh profile under `work`.
    static func load(_ url: String, _ mode: String, work: WorkDir) async throws -> ToolResult {
        let binary = try #require(binary)
        let profile = work.file("chromium-\(UUID().uuidString)").path
        let r = try await runProcess(binary, args: [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
            "--user-data-dir=\(profile)", "--window-size=1280,900", "--virtual-time-budget=3000",
            "--enable-logging=stderr", "--v=0", mode, url,
        ], env: ["HOME": work.path], cwd: work.url, timeout: .seconds(90))
        try? FileManager.default.removeItem(atPath: profile)
        return r
    }

    /// The page's script errors, as Chromium logged them ("Uncaught ...") or the page wrote them.
    static func scriptErrors(_ r: ToolResult) -> [String] {
        var errors = r.stderr.split(separator: "\n").filter { $0.contains("Uncaught") || $0.contains("CONSOLE") && $0.contains("rror") }
            .map(String.init)
        if r.stdout.contains("data-errors=") { errors.append("the page caught errors: \(r.stdout.components(separatedBy: "<pre id=\"dlg-errors\"").last?.prefix(600) ?? "")") }
        return errors
    }

    /// Width and height from a PNG's IHDR chunk.
    static func pngSize(_ data: Data) -> (Int, Int)? {
        let b = [UInt8](data.prefix(24))
        guard b.count == 24, b[0] == 0x89, b[1] == 0x50, b[2] == 0x4E, b[3] == 0x47, Array(b[12..<16]) == Array("IHDR".utf8) else { return nil }
        func be(_ i: Int) -> Int { b[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (be(16), be(20))
    }
}

/// The value of a `data-<name>="..."` attribute of the dumped DOM's body.
func domAttribute(_ dom: String, _ name: String) -> String? {
    guard let r = dom.range(of: " data-\(name)=\"") else { return nil }
    return String(dom[r.upperBound...].prefix { $0 != "\"" })
}

/// The `data-id` of every list row in the dumped DOM.
func rowIDs(_ dom: String) -> [String] {
    dom.components(separatedBy: "class=\"row").dropFirst().compactMap { chunk in
        guard let r = chunk.range(of: "data-id=\"") else { return nil }
        return String(chunk[r.upperBound...].prefix { $0 != "\"" })
    }
}

@Suite("report.html in headless Chromium") struct ReportToolTests {
    static let skipReason = "chromium is not installed: apt-get install chromium (scripts/ensure-deps.sh and .ci/run install it)"

    /// The example run (2 languages x 6 dialogues) against a mock that answers empty 40% of the time,
    /// so some dialogues are dropped and the report has both kinds.
    @Test(.enabled(if: Chromium.binary != nil, Comment(rawValue: skipReason)), .timeLimit(.minutes(10)))
    func theExampleRunsReportWorksInChromium() async throws {
        let work = try WorkDir(label: "report")
        defer { work.cleanup() }
        try await withMock(["--seed", "42", "--fault-empty", "0.4"]) { mock in
            let (r, _) = try await runDlgRun(work, mock, runID: "example")
            try #require(r.status == 0, "\(r)")
            #expect(r.stderr.contains("dlg-run: report: \(work.file("outputs/report.html").path)"), "\(r)")
        }
        let e = try await stage("dlg-export", work, nil, ["--report"])
        try #require(e.status == 0, "\(e)")
        let summary = try JSONL.object(e.stdout)
        let page = work.file("outputs/report.html").path
        #expect(summary["report"]?.stringValue == page, "\(e)")
        #expect(temporaryFiles(work).isEmpty, "\(temporaryFiles(work))")

        let records = try work.records("outputs/run_state/example/finished.jsonl")
        let ids = records.map { Record.id($0) }
        #expect(summary["dialogues"]?.intValue == ids.count, "\(e)")
        #expect(summary["completed"]?.intValue == 12, "\(e)")
        let url = URL(fileURLWithPath: page).absoluteString

        // The page as it opens: every dialogue in the list, no script error.
        let all = try await Chromium.load(url, "--dump-dom", work: work)
        try #require(all.status == 0, "\(all)")
        #expect(Chromium.scriptErrors(all).isEmpty, "\(Chromium.scriptErrors(all))")
        #expect(domAttribute(all.stdout, "ready") == "1", "the page's script did not finish\n\(all.stdout.prefix(3000))")
        #expect(domAttribute(all.stdout, "shown") == String(ids.count))
        #expect(Set(rowIDs(all.stdout)) == Set(ids), "rows \(rowIDs(all.stdout)) vs ids \(ids)")
        #expect(all.stdout.contains("Judge score per dialogue"), "the charts were not drawn")

        // The controls, set from the query string through the same code: language, score, status.
        let fr = try await Chromium.load(url + "?lang=fr", "--dump-dom", work: work)
        let frIDs = records.filter { Record.language($0) == "fr" }.map { Record.id($0) }
        #expect(Chromium.scriptErrors(fr).isEmpty, "\(Chromium.scriptErrors(fr))")
        #expect(domAttribute(fr.stdout, "shown") == String(frIDs.count))
        #expect(Set(rowIDs(fr.stdout)) == Set(frIDs), "rows with ?lang=fr: \(rowIDs(fr.stdout))")
        #expect(fr.stdout.contains("<option value=\"fr\">fr</option>") && fr.stdout.contains("f-lang"), "language control")

        let good = records.filter { (QualityFilters.score($0) ?? -1) >= 8 }.map { Record.id($0) }
        let scored = try await Chromium.load(url + "?minScore=8&sort=score-desc", "--dump-dom", work: work)
        #expect(Chromium.scriptErrors(scored).isEmpty, "\(Chromium.scriptErrors(scored))")
        #expect(Set(rowIDs(scored.stdout)) == Set(good), "rows with ?minScore=8: \(rowIDs(scored.stdout)) vs \(good)")
        #expect(good.count < ids.count, "the score filter must hide something to be tested")

        let droppedIDs = records.filter { Record.status($0) == .dropped }.map { Record.id($0) }
        let dropped = try await Chromium.load(url + "?status=dropped", "--dump-dom", work: work)
        #expect(Set(rowIDs(dropped.stdout)) == Set(droppedIDs), "rows with ?status=dropped: \(rowIDs(dropped.stdout))")
        if let d = droppedIDs.first {
            let reason = records.first { Record.id($0) == d }?["drop_reason"]?.stringValue ?? "?"
            #expect(dropped.stdout.contains("dropped: \(reason)"), "a dropped row shows its reason")
        }

        // The text search, from the query string too: a question finds its dialogue.
        let target = try #require(records.first { !Record.turns($0).isEmpty })
        let question = Record.turns(target)[0]["user_message"]?.stringValue ?? ""
        let words = question.trimmingCharacters(in: .whitespaces)
        let query = words.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? words
        let searched = try await Chromium.load(url + "?q=" + query, "--dump-dom", work: work)
        let found = rowIDs(searched.stdout)
        #expect(found.contains(Record.id(target)), "searching \"\(words)\" found \(found)")
        #expect(found.count < ids.count, "searching \"\(words)\" hid nothing: \(found.count) rows")

        // A dialogue's own link opens it.
        let last = try #require(ids.last)
        let linked = try await Chromium.load(url + "#" + last, "--dump-dom", work: work)
        #expect(domAttribute(linked.stdout, "selected") == last)
        #expect(linked.stdout.contains("<h2>\(last)</h2>"), "the detail pane shows \(last)")

        // A screenshot with something on it: compared with a blank page's, same size.
        let blankPage = work.file("blank.html")
        try work.write("blank.html", "<!doctype html><html><body></body></html>")
        let shot = work.file("report.png").path, blank = work.file("blank.png").path
        let s1 = try await Chromium.load(url, "--screenshot=\(shot)", work: work)
        try #require(s1.status == 0, "\(s1)")
        _ = try await Chromium.load(blankPage.absoluteString, "--screenshot=\(blank)", work: work)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        let blankPNG = try Data(contentsOf: URL(fileURLWithPath: blank))
        #expect(Chromium.pngSize(png).map { [$0.0, $0.1] } == [1280, 900], "\(String(describing: Chromium.pngSize(png)))")
        #expect(png.count > 20 * blankPNG.count, "screenshot \(png.count) bytes, a blank page \(blankPNG.count)")
        if let keep = ProcessInfo.processInfo.environment["DLG_REPORT_SCREENSHOT"], !keep.isEmpty {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: shot, toPath: keep)
        }
    }
}
