// `JSONParser.parse(_:keeping:)` checks what it skips exactly as `parse` does: the same error at the same
// offset for every broken document, and the same request for every good one. Differential, over the golden
// corpus's bodies cut short and with bytes replaced at seeded positions.

@testable import DlgMock
import Foundation
import Testing

@Suite struct JSONKeepTests {
    /// The outcome of reading `body` as a chat request: the parse error, the request error, or the request.
    static func read(_ body: [UInt8], keep: Bool) -> String {
        body.withUnsafeBytes { bytes in
            do {
                let json = keep ? try JSONParser.parse(bytes, keeping: ChatRequest.keep) : try JSONParser.parse(bytes)
                do {
                    let request = try ChatRequest(json)
                    let format: String
                    switch request.responseFormat {
                    case .none: format = "none"
                    case .jsonObject: format = "json_object"
                    case .jsonSchema(let name): format = "json_schema \(name ?? "-")"
                    }
                    return "request model=\(request.model ?? "-") seed=\(request.seed.map(String.init) ?? "-") format=\(format) "
                        + "tools=\(request.toolNames) messages=\(request.messages.map { [$0.role, $0.content] })"
                } catch let bad as BadRequest {
                    return "bad request: \(bad.message) (\(bad.param ?? "-"))"
                }
            } catch {
                return "parse error: \(error)"
            }
        }
    }

    @Test func keepingChecksTheSkippedPartsLikeAFullParse() throws {
        let bodies = try GoldenReplyTests.corpus().filter { $0.path == "/v1/chat/completions" && !$0.body.isEmpty }.map { Array($0.body.utf8) }
        var random = SplitMix64(seed: 13)
        let replacements: [UInt8] = Array("\\\"\u{01}x{}[]:,u0 \n".utf8) + [0xC3, 0xFF]
        var checked = 0
        var errors = 0
        for body in bodies {
            var variants = [body]
            for _ in 0..<12 {
                variants.append(Array(body[..<Int(random.nextUnit() * Double(body.count))]))
                var changed = body
                for _ in 0..<(1 + Int(random.nextUnit() * 3)) {
                    changed[Int(random.nextUnit() * Double(body.count))] = replacements[Int(random.nextUnit() * Double(replacements.count))]
                }
                variants.append(changed)
            }
            for variant in variants {
                let full = Self.read(variant, keep: false)
                let kept = Self.read(variant, keep: true)
                #expect(kept == full, "\(String(decoding: variant.prefix(300), as: UTF8.self))")
                checked += 1
                if full.hasPrefix("parse error") { errors += 1 }
            }
        }
        #expect(checked > 1000)
        #expect(errors > checked / 3, "too few broken documents to say much: \(errors) of \(checked)")
    }

    @Test func keepingChecksEscapesDepthAndNumbersInSkippedParts() {
        let documents = [
            #"{"messages":[{"role":"user","content":"hi"}],"extra":"a\qb"}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":"\u12G4"}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":"\ud800\u00zz"}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":"\ud800\udc00 ok \ud800 x"}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":"\u12"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":[01]}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":[1.]}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":-}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":tru}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":{"a" 1}}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":{"a":1,}}"#,
            #"{"messages":[{"role":"user","content":"hi"}],"extra":[1 2]}"#,
            #"{"messages":[{"role":"user","content":"hi","x":"\"}],"extra":1}"#,
            #"{"messages":[{"role":"user","content":"h\ti"}]}"#,
            #"{"model":"m","model":5,"messages":[{"role":"user","content":"a","content":3}],"seed":1,"seed":"x"}"#,
            #"{"messages":"no","response_format":[],"tools":{"a":1}}"#,
            #"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"text":"b"},{"text":5}]}],"tools":[{"function":{"name":"f","name":"g"}},3]}"#,
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"extra\":\"" + String(repeating: "x", count: 17) + "\u{01}\"}",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"extra\":" + String(repeating: "[", count: 300) + "}",
        ]
        for document in documents {
            let body = Array(document.utf8)
            #expect(Self.read(body, keep: true) == Self.read(body, keep: false), "\(document.prefix(200))")
        }
    }
}

@Suite struct JSONWriterEscapeTests {
    /// The escape a byte at a time, as the writer did before it went 8 bytes at a time.
    static func reference(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): out += Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): out += Array(#"\\"#.utf8)
            case 0x0A: out += Array(#"\n"#.utf8)
            case 0x0D: out += Array(#"\r"#.utf8)
            case 0x09: out += Array(#"\t"#.utf8)
            case 0x08: out += Array(#"\b"#.utf8)
            case 0x0C: out += Array(#"\f"#.utf8)
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        return out
    }

    @Test func escapesEveryByteLikeTheBytewiseEscape() {
        var random = SplitMix64(seed: 5)
        let alphabet: [UInt8] = Array("ab\"\\\n\r\t\u{08}\u{0C}\u{01}\u{1F} ".utf8) + [0x7F, 0x80, 0xC3, 0xA9, 0xFF, 0x21, 0x5B, 0x5D, 0x20]
        for length in 0..<80 {
            for _ in 0..<20 {
                let text = (0..<length).map { _ in alphabet[Int(random.nextUnit() * Double(alphabet.count))] }
                var writer = JSONWriter()
                writer.raw("x")
                text.withUnsafeBufferPointer { writer.escape($0) }
                #expect(writer.bytes == [UInt8(ascii: "x")] + Self.reference(text), "\(text)")
            }
        }
        // Every byte value, alone and between runs of plain text.
        for byte in 0...255 {
            let text = Array("0123456789".utf8) + [UInt8(byte)] + Array("abcdefghij".utf8)
            var writer = JSONWriter()
            text.withUnsafeBufferPointer { writer.escape($0) }
            #expect(writer.bytes == Self.reference(text))
        }
    }
}
