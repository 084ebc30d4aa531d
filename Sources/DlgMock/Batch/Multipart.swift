// Just enough of multipart/form-data (RFC 7578) to read a `/v1/files` upload: the boundary is the
// body's first line, each part has a Content-Disposition naming it.

enum Multipart {
    struct Part {
        var name: String
        var filename: String?
        var body: [UInt8]
    }

    /// The parts of `body`; nil when it is not multipart/form-data.
    static func parts(_ body: [UInt8]) -> [Part]? {
        let crlf: [UInt8] = [0x0D, 0x0A]
        guard body.count > 4, body[0] == 0x2D, body[1] == 0x2D, let firstEnd = find(crlf, in: body, from: 0) else { return nil }
        let delimiter = crlf + Array(body[0..<firstEnd])
        var parts: [Part] = []
        var cursor = firstEnd + 2
        while cursor < body.count {
            guard let headEnd = find(crlf + crlf, in: body, from: cursor),
                  let next = find(delimiter, in: body, from: headEnd + 4) else { return nil }
            let head = String(decoding: body[cursor..<headEnd], as: UTF8.self)
            var name = "", filename: String?
            for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
                name = attribute("name", in: line) ?? ""
                filename = attribute("filename", in: line)
            }
            parts.append(Part(name: name, filename: filename, body: Array(body[(headEnd + 4)..<next])))
            cursor = next + delimiter.count
            // `--` after the delimiter ends the body.
            if cursor + 1 < body.count, body[cursor] == 0x2D, body[cursor + 1] == 0x2D { break }
            cursor += 2
        }
        return parts
    }

    private static func attribute(_ key: String, in line: Substring) -> String? {
        for piece in line.split(separator: ";") {
            let trimmed = piece.trimmingPrefix(" ")
            guard trimmed.hasPrefix(key + "=") else { continue }
            var value = trimmed.dropFirst(key.count + 1)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            return String(value)
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var i = start
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == needle[0] {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
