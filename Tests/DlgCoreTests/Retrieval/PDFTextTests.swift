// pdftotext: the letter ratio that rejects scanned pages, and where the tool is found.

@testable import DlgCore
import Foundation
import Testing

@Suite struct PDFTextTests {
    @Test func letterRatioCountsLettersAmongVisibleCharacters() {
        #expect(PDFText.letterRatio("") == 0)
        #expect(PDFText.letterRatio("   \n") == 0)
        #expect(PDFText.letterRatio("abcd") == 1)
        #expect(PDFText.letterRatio("ab 12") == 0.5)
        #expect(PDFText.letterRatio("é ü") == 1, "letters beyond ASCII count")
    }

    @Test func theToolComesFromTheEnvironmentOrThePath() {
        #expect(PDFText.tool(["DLG_PDFTOTEXT": "/nonexistent/pdftotext"]) == nil)
        #expect(PDFText.tool(["PATH": "/nonexistent"]) == nil)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext") {
            #expect(PDFText.tool(["PATH": "/nonexistent:/usr/bin"]) == "/usr/bin/pdftotext")
        }
    }
}
