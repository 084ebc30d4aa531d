// swift-log through dlgforge's file handler.

@testable import DlgCore
import DlgTestSupport
import Foundation
import Logging
import Testing

@Suite struct LogTests {
    /// swift-log through the file handler: upstream's line format, metadata as sorted key=value pairs.
    @Test func fileHandlerWritesUpstreamsLineFormat() throws {
        let work = try WorkDir(copyExamples: false, label: "dlg-log")
        let dir = work.path + "/logs"
        let log = DlgLog.logger("dlg.test", logsDir: dir, file: "run.log")
        log.info("hello", metadata: ["dlg_turn_index": "2", "dlg_conversation_id": "c1"])
        log.warning("careful")
        log.debug("not written: below the level")
        let lines = try String(contentsOfFile: dir + "/run.log", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        let stamp = #"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"#
        #expect(lines[0].range(of: "^\(stamp) \\| INFO \\| dlg.test \\| hello dlg_conversation_id=c1 dlg_turn_index=2$", options: .regularExpression) != nil, "\(lines[0])")
        #expect(lines[1].range(of: "^\(stamp) \\| WARNING \\| dlg.test \\| careful$", options: .regularExpression) != nil, "\(lines[1])")
    }

    @Test func anUnwritableFolderLogsNothing() {
        let log = DlgLog.logger("dlg.test", logsDir: "/proc/no-such-folder", file: "run.log")
        log.info("goes nowhere")   // must not crash or throw
    }
}
