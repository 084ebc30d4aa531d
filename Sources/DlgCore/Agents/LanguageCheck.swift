/// A light check that text is in the target language: stopword counts for languages written in
/// Latin script, the script itself for others. It only says "wrong" when another language clearly
/// wins, so short or mixed text passes.
public enum LanguageCheck {
    static let stopwords: [String: Set<String>] = [
        "en": ["the", "and", "is", "are", "of", "to", "in", "it", "that", "for", "with", "you", "what", "how", "do", "does", "can", "this", "my", "should", "be", "on", "or", "when", "why", "which"],
        "fr": ["le", "la", "les", "et", "est", "des", "du", "une", "un", "pour", "avec", "que", "qui", "dans", "sur", "pas", "ce", "cette", "comment", "quelle", "quel", "pourquoi", "vous", "je", "mon", "ma", "mes", "au", "aux", "il", "se", "ne"],
        "de": ["der", "die", "das", "und", "ist", "nicht", "ein", "eine", "mit", "für", "wie", "ich", "sie", "es", "zu", "auf", "den", "dem", "kann", "bitte", "ihrer", "meinem", "am", "besten", "hängt", "von"],
        "es": ["el", "los", "las", "y", "es", "una", "por", "para", "con", "que", "cómo", "qué", "del", "se", "mi", "lo", "como", "pero", "está"],
        "it": ["il", "gli", "e", "è", "una", "per", "con", "che", "come", "del", "della", "non", "sono", "questo", "mio"],
        "pt": ["os", "as", "e", "é", "uma", "para", "com", "que", "como", "do", "da", "não", "meu", "isso", "está"],
    ]

    /// The stopword lists as one table: word -> the languages (bits, in `codes` order) it is a stopword of,
    /// so a text's words are each looked up once, not once per language.
    static let codes = stopwords.keys.sorted()
    static let languagesOfWord: [String: UInt8] = {
        var table: [String: UInt8] = [:]
        for (i, code) in codes.enumerated() { for w in stopwords[code]! { table[w, default: 0] |= 1 << UInt8(i) } }
        return table
    }()

    static let scripts: [String: ClosedRange<UInt32>] = [
        "ar": 0x0600...0x06FF, "ru": 0x0400...0x04FF, "el": 0x0370...0x03FF, "he": 0x0590...0x05FF,
        "hi": 0x0900...0x097F, "zh": 0x4E00...0x9FFF, "ja": 0x3040...0x30FF, "ko": 0xAC00...0xD7AF,
    ]

    /// True when `text` is clearly not in `language` (a code such as en, fr, ar; others are not checked).
    public static func isWrong(_ text: String, language: String) -> Bool {
        // Upstream's names (`morocco`, `english`) as well as codes; a language we do not know passes.
        guard let lang = LanguageNames.checkCode(language) else { return false }
        if let range = scripts[lang] {
            let letters = text.unicodeScalars.filter { $0.properties.isAlphabetic }
            guard letters.count >= 8 else { return false }
            let inScript = letters.filter { range.contains($0.value) }.count
            return inScript * 5 < letters.count
        }
        guard let own = codes.firstIndex(of: lang) else { return false }
        let words = Text.words(text, ascii: { Text.isASCIILetter($0) || $0 == UInt8(ascii: "'") },
                               unicode: { $0.isLetter || $0 == "'" })
        guard words.count >= 5 else { return false }
        var hits = [Int](repeating: 0, count: codes.count)
        for w in words {
            guard var mask = languagesOfWord[w] else { continue }
            while mask != 0 {
                hits[mask.trailingZeroBitCount] += 1
                mask &= mask - 1
            }
        }
        var best = 0
        for (i, n) in hits.enumerated() where i != own { best = max(best, n) }
        return best >= 3 && hits[own] * 3 < best
    }
}
