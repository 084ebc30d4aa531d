// What dlg-gen shows the generator of a passage.

@testable import DlgCore
import Foundation
import Testing

@Suite struct GenStageTests {
    @Test func passageDescriptorsNameTheFile() {
        func descriptor(_ source: String, _ index: Int) -> String {
            GenStage.descriptor(Chunk(id: "x", text: "", source: source, chunkIndex: index, charStart: 0, charEnd: 0))
        }
        #expect(descriptor("home_composting.md", 0) == "home composting (part 1)")
        #expect(descriptor("guides/bike/bicycle_maintenance.v2.md", 2) == "bicycle maintenance.v2 (part 3)")
        #expect(descriptor("README", 0) == "README (part 1)")
        #expect(descriptor("notes/.hidden", 1) == ".hidden (part 2)")
    }
}
