/// Target languages as dlgforge users write them: ISO codes (`en`, `fr`, `ar`) or upstream's names
/// (its sample uses `morocco`, `msa`, `gulf`, `levantine`, `english`; its code knows `egyptian`,
/// `saudi`, `uae` and more). One table gives each name the code the language check uses and the
/// ISO 639 code the Hugging Face Hub accepts in a dataset card.
public enum LanguageNames {
    struct Entry {
        /// What LanguageCheck checks: a stopword language or a script (`ar`, `ru`, ...).
        var check: String
        /// ISO 639-1 when the language has one, else ISO 639-3 (Arabic varieties).
        var iso: String
    }

    static let table: [String: Entry] = {
        var t: [String: Entry] = [:]
        func add(_ names: [String], check: String, iso: String) { for n in names { t[n] = Entry(check: check, iso: iso) } }
        add(["en", "eng", "english"], check: "en", iso: "en")
        add(["fr", "fra", "french", "france", "francais", "français"], check: "fr", iso: "fr")
        add(["de", "deu", "german", "deutsch"], check: "de", iso: "de")
        add(["es", "spa", "spanish", "espanol", "español"], check: "es", iso: "es")
        add(["it", "ita", "italian", "italiano"], check: "it", iso: "it")
        add(["pt", "por", "portuguese", "portugues", "português"], check: "pt", iso: "pt")
        add(["ru", "rus", "russian"], check: "ru", iso: "ru")
        add(["el", "greek"], check: "el", iso: "el")
        add(["he", "hebrew"], check: "he", iso: "he")
        add(["hi", "hindi"], check: "hi", iso: "hi")
        add(["zh", "chinese", "mandarin"], check: "zh", iso: "zh")
        add(["ja", "japanese"], check: "ja", iso: "ja")
        add(["ko", "korean"], check: "ko", iso: "ko")
        // Arabic: the script is checked; the card names the variety.
        add(["ar", "ara", "arabic"], check: "ar", iso: "ar")
        add(["msa", "arb", "fusha", "standard_arabic", "modern_standard_arabic"], check: "ar", iso: "arb")
        add(["morocco", "moroccan", "darija", "ary"], check: "ar", iso: "ary")
        add(["gulf", "uae", "emirati", "kuwaiti", "qatari", "bahraini", "afb"], check: "ar", iso: "afb")
        add(["saudi", "najdi", "ars"], check: "ar", iso: "ars")
        add(["hejazi", "acw"], check: "ar", iso: "acw")
        add(["levantine", "syrian", "lebanese", "palestinian", "jordanian", "apc", "ajp"], check: "ar", iso: "apc")
        add(["egypt", "egyptian", "arz"], check: "ar", iso: "arz")
        add(["iraqi", "acm"], check: "ar", iso: "acm")
        add(["sudanese", "apd"], check: "ar", iso: "apd")
        add(["tunisian", "aeb"], check: "ar", iso: "aeb")
        add(["algerian", "arq"], check: "ar", iso: "arq")
        add(["libyan", "ayl"], check: "ar", iso: "ayl")
        add(["omani", "acx"], check: "ar", iso: "acx")
        add(["yemeni", "ayn"], check: "ar", iso: "ayn")
        return t
    }()

    static func key(_ language: String) -> String {
        language.trimmingCharacters(in: .whitespaces).lowercased()
            .replacingOccurrences(of: "-", with: "_").replacingOccurrences(of: " ", with: "_")
    }

    /// What the language check looks for, or nil when it does not know the language (then it passes).
    public static func checkCode(_ language: String) -> String? {
        let k = key(language)
        if let e = table[k] { return e.check }
        // A regional tag (`en_gb`, `ar_ma`): its language part.
        if let sep = k.firstIndex(of: "_"), let e = table[String(k[..<sep])] { return e.check }
        return nil
    }

    /// The ISO 639 code for a dataset card's `language:` list, or nil for a name we do not know.
    public static func isoCode(_ language: String) -> String? {
        let k = key(language)
        if let e = table[k] { return e.iso }
        if let sep = k.firstIndex(of: "_"), let e = table[String(k[..<sep])] { return e.iso }
        // Any other ISO-looking code (two or three lowercase letters) is passed through.
        if (2...3).contains(k.count), k.allSatisfy({ $0.isASCII && $0.isLetter }) { return k }
        return nil
    }

    /// One-word retrieval queries that are only a language name (upstream's list) are dropped.
    public static let placeholders: Set<String> = [
        "ar", "en", "fr", "english", "french", "arabic", "morocco", "moroccan", "egypt", "egyptian",
        "levantine", "uae", "gulf", "saudi",
    ]
}
