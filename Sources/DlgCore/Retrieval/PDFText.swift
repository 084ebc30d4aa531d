import Foundation

/// Text of a PDF in `knowledge/`, through poppler's `pdftotext` (Debian: poppler-utils) when it is
/// installed. Like upstream (pypdf), each page is extracted twice, with the layout kept and in reading
/// order, and the page keeps whichever has the higher share of letters: layout mode wins on tables and
/// columns, reading order on text that layout mode spaces out.
public enum PDFText {
    /// How long one run of pdftotext may take: a crafted or broken PDF must not hang the index build.
    static let timeout: Duration = .seconds(60)
    /// How much text one run may write: a small PDF can inflate to far more text than memory holds.
    static let maxTextBytes = 64 << 20

    /// `DLG_PDFTOTEXT` names the tool when it is not `pdftotext` on the PATH.
    static func tool(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let explicit = environment["DLG_PDFTOTEXT"], !explicit.isEmpty {
            return FileManager.default.isExecutableFile(atPath: explicit) ? explicit : nil
        }
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/pdftotext"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    public static func extract(_ path: String, shownAs name: String) async throws(DlgError) -> String {
        guard let tool = tool() else {
            throw DlgError(.unavailable, "\(name): reading a PDF needs pdftotext (Debian: apt-get install poppler-utils); install it, or convert the file to .txt, or move it out of the knowledge folder")
        }
        let layout = try await pages(tool, ["-layout"], path, name)
        let plain = try await pages(tool, [], path, name)
        var kept: [String] = []
        for i in 0..<max(layout.count, plain.count) {
            let a = i < layout.count ? layout[i] : ""
            let b = i < plain.count ? plain[i] : ""
            kept.append(letterRatio(a) >= letterRatio(b) ? a : b)
        }
        return kept.joined(separator: "\n")
    }

    /// The share of letters among the characters that are not white space (0 for an empty page).
    static func letterRatio(_ text: String) -> Double {
        var letters = 0
        var visible = 0
        for scalar in text.unicodeScalars where !scalar.properties.isWhitespace {
            visible += 1
            if scalar.properties.isAlphabetic { letters += 1 }
        }
        return visible == 0 ? 0 : Double(letters) / Double(visible)
    }

    /// One run of pdftotext, on a thread of its own, within `timeout` and `maxBytes`; its pages (it ends
    /// each with a form feed).
    static func pages(_ tool: String, _ options: [String], _ path: String, _ name: String,
                      timeout: Duration = timeout, maxBytes: Int = maxTextBytes) async throws(DlgError) -> [String] {
        let run: (status: Int32, output: Data, errors: Data)
        do {
            run = try await Subprocess.captureAsync([tool] + options + ["-enc", "UTF-8", "-q", path, "-"],
                                                    timeout: timeout, maxOutputBytes: maxBytes)
        } catch {
            switch error.code {
            case .tempFail:
                throw DlgError(.tempFail, "\(name): pdftotext did not finish within \(Subprocess.durationText(timeout)) and was killed; the file may be damaged: convert it to .txt, or move it out of the knowledge folder")
            case .data:
                throw DlgError(.data, "\(name): pdftotext wrote more than \(Subprocess.bytesText(maxBytes)) of text and was killed; split the file, convert it to .txt, or move it out of the knowledge folder")
            default:
                throw DlgError(.unavailable, "\(name): cannot run \(tool): \(error.message)")
            }
        }
        guard run.status == 0 else {
            let why = String(decoding: run.errors, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "exit status \(run.status)"
            throw DlgError.data("\(name): pdftotext cannot read it: \(why)")
        }
        let text = run.output
        var pages = String(decoding: text, as: UTF8.self).components(separatedBy: "\u{0C}")
        if pages.last?.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty == true { pages.removeLast() }
        return pages
    }
}
