// The stage tools' command lines, as dlg-run spawns them.

@testable import DlgCore
import Foundation
import Testing

@Suite struct StageCommandTests {
    @Test func argumentsNameTheToolThenItsFlags() {
        #expect(StageCommand(.gen, config: "c.yaml").arguments(toolsDir: "/opt/bin")
            == ["/opt/bin/dlg-gen", "--config", "c.yaml"])
        #expect(StageCommand(.respond, config: "c.yaml", concurrency: 8, unordered: true, strict: true).arguments(toolsDir: "/opt/bin/")
            == ["/opt/bin/dlg-respond", "--config", "c.yaml", "--unordered", "--concurrency", "8", "--strict"])
        #expect(StageCommand(.judge, config: "x", offline: true, force: true).arguments(toolsDir: "d")
            == ["d/dlg-judge", "--config", "x", "--offline", "--force"])
    }

    @Test func theLoopIsEveryStageUnorderedWithRoomForEveryDialogue() {
        let loop = StageCommand.loop(config: "run.yaml", inFlight: 12)
        #expect(loop.map(\.tool) == [.gen, .dedup, .respond, .judge])
        #expect(loop.map(\.tool.rawValue) == ["dlg-gen", "dlg-dedup", "dlg-respond", "dlg-judge"])
        for c in loop {
            #expect(c.unordered && c.concurrency == 12 && !c.strict && !c.offline && !c.force && c.config == "run.yaml")
            #expect(c.arguments(toolsDir: "/b").suffix(3) == ["--unordered", "--concurrency", "12"])
        }
    }

    @Test func theJudgeOnlyPassJudgesAgain() {
        let c = StageCommand.judgeAgain(config: "run.yaml")
        #expect(c == StageCommand(.judge, config: "run.yaml", offline: true, force: true))
        #expect(c.arguments(toolsDir: "/b") == ["/b/dlg-judge", "--config", "run.yaml", "--offline", "--force"])
    }
}
