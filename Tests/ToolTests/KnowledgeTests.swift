// The knowledge folder: PDFs are read through pdftotext (poppler-utils) and chunked like text files;
// without the tool a PDF is an error that names the file and the package.

import DlgCore
import DlgTestSupport
import Foundation
import Testing

@Suite("knowledge folder") struct KnowledgeTests {
    /// A project whose knowledge is the two-page fixture PDF (written by hand, Helvetica text).
    static func pdfProject() throws -> WorkDir {
        let work = try WorkDir(label: "knowledge-pdf")
        try work.remove("knowledge")
        try FileManager.default.createDirectory(at: work.file("knowledge/manuals"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.path("knowledge_pdf/kettle_care.pdf"),
                                         toPath: work.file("knowledge/manuals/kettle_care.pdf").path)
        try work.setConfig("run.seed_topics_enabled", "false")
        return work
    }

    @Test func aPDFIsReadPageByPageAndChunked() async throws {
        let work = try Self.pdfProject()
        try await withMock(["--seed", "71"]) { mock in
            let r = try await stage("dlg-gen", work, mock, ["--new", "2", "--language", "en", "--run-id", "pdf"])
            try #require(r.status == 0, "\(r)")
            let records = try JSONL.records(r.stdout)
            #expect(records.count == 2 && records.allSatisfy { $0["pending"]?["source_path"] == "manuals/kettle_care.pdf" }, "\(r)")
        }
        let inventory = try work.records("knowledge_index/chunk_inventory.jsonl")
        let text = inventory.compactMap { $0["text"]?.stringValue }.joined(separator: "\n")
        // Both pages, in order, as text.
        let first = try #require(text.range(of: "Descale a kettle every month with one cup of white vinegar."), "\(text)")
        let second = try #require(text.range(of: "The limescale filter in the spout lifts out for cleaning."), "\(text)")
        #expect(first.upperBound < second.lowerBound)
        #expect(!text.contains("\u{0C}"), "page breaks are not text")
        #expect(inventory.allSatisfy { $0["metadata"]?["source"] == "manuals/kettle_care.pdf" })
    }

    @Test func aPDFWithoutPdftotextIsAClearError() async throws {
        let work = try Self.pdfProject()
        let r = try await stage("dlg-gen", work, nil, ["--new", "1", "--language", "en", "--run-id", "pdf"],
                                env: ["DLG_PDFTOTEXT": "/nonexistent/pdftotext", "DLGFORGE_BASE_URL": "http://127.0.0.1:9/v1"])
        #expect(r.status == 69, "\(r)")
        #expect(r.stderr.contains("kettle_care.pdf") && r.stderr.contains("poppler-utils"), "\(r)")
        #expect(r.stdout.isEmpty, "\(r)")
        #expect(!work.exists("knowledge_index/knowledge_fingerprint.json"), "no index is taken as built")
    }

    @Test func aBrokenPDFNamesTheFile() async throws {
        let work = try Self.pdfProject()
        try work.write("knowledge/manuals/broken.pdf", "%PDF-1.4 this is not a PDF\n")
        try await withMock(["--seed", "72"]) { mock in
            let r = try await stage("dlg-gen", work, mock, ["--new", "1", "--language", "en", "--run-id", "pdf"])
            #expect(r.status == 65, "\(r)")
            #expect(r.stderr.contains("broken.pdf") && r.stderr.contains("pdftotext"), "\(r)")
        }
    }
}
