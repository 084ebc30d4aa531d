// Near-duplicate questions (`nearDuplicateRate`, `dlg-mock --near-duplicate-rate`): now and then the
// qa_generator asks again a question it already gave, reworded as a model repeating itself does: a word
// or two added, two clauses swapped, the punctuation changed, the case changed with it. The word sets
// stay close: DlgCore's NearDuplicates (lowercase runs of letters and digits, word unigrams) puts a
// variant of a question of n distinct words at n / (n + 2) or more (0.8 from n = 8; questions shorter
// than that get one word added, n / (n + 1)), and at 1 for the other kinds. A casing change alone
// would be an exact duplicate (exact dedup lowercases), so it always comes with a punctuation change.

/// The questions the qa_generator gave, per language, that a near-duplicate may repeat; kept behind
/// `MockEngine.lock`, at most `capacity` per language (then the oldest are replaced).
struct GivenQuestions {
    static let capacity = 10_000
    private var byLanguage: [String: [String]] = [:]
    private var replaced: [String: Int] = [:]

    mutating func remember(_ question: String, language: String) {
        var list = byLanguage[language, default: []]
        if list.count < Self.capacity {
            list.append(question)
        } else {
            let at = replaced[language, default: 0]
            list[at] = question
            replaced[language] = (at + 1) % Self.capacity
        }
        byLanguage[language] = list
    }

    /// One of the questions given in `language`, chosen by the request's draw; nil before the first.
    func pick(_ draw: Draw, language: String) -> String? {
        guard let list = byLanguage[language], !list.isEmpty else { return nil }
        return list[draw.index(61, list.count)]
    }
}

/// The ways a question is reworded; which one is drawn from the request's content hash.
enum NearDuplicateVariant: CaseIterable {
    case wordsAdded, clausesSwapped, punctuationChanged, caseChanged

    /// Words a speaker adds without changing the question, per language (one token each).
    static let fillers: [String: [String]] = [
        "en": ["exactly", "please", "today", "again", "currently", "really", "still", "actually"],
        "fr": ["exactement", "vraiment", "actuellement", "encore", "maintenant", "toujours"],
        "ar": ["بالضبط", "حاليا", "اليوم", "أيضا", "فعلا"],
    ]

    /// Words that open a clause, where a question can be cut in two and its halves swapped.
    static let clauseOpeners: Set<String> = [
        "for", "with", "when", "on", "after", "in", "since", "if", "while", "before",
        "pour", "avec", "quand", "après", "sur", "si", "dans", "depuis",
        "مع", "عندما", "بعد", "في", "إذا", "لفريق",
    ]

    /// `question` reworded in the way drawn (salts 62-69 of `draw`), in `language` ("en", "fr", "ar").
    static func variant(of question: String, draw: Draw, language: String) -> String {
        let (words, end) = split(question)
        guard words.count >= 2 else { return question + " " + (fillers[language] ?? fillers["en"]!)[0] }
        switch draw.pick(62, allCases) {
        case .wordsAdded:
            return join(addWords(words, draw: draw, language: language), end)
        case .clausesSwapped:
            return join(swapClauses(words, draw: draw, language: language), end)
        case .punctuationChanged:
            return changePunctuation(words, end, draw: draw)
        case .caseChanged:
            let cased = draw.index(63, 2) == 0 ? words.map { $0.lowercased() } : words.map { $0.uppercased() }
            // Another end mark too: lowercased alone, the question would be an exact duplicate.
            return changePunctuation(cased == words ? words.map { $0.lowercased() } : cased, end, draw: draw)
        }
    }

    /// The words (split on spaces) and the end mark (`?`, ` ?` or `؟`, possibly empty).
    static func split(_ question: String) -> (words: [String], end: String) {
        var words = question.split(separator: " ").map(String.init)
        var end = ""
        if words.last == "?" {
            words.removeLast()
            end = " ?"
        } else if let last = words.last, let mark = last.last, mark == "?" || mark == "؟" || mark == "." {
            words[words.count - 1] = String(last.dropLast())
            end = String(mark)
            if words[words.count - 1].isEmpty { words.removeLast() }
        }
        return (words, end)
    }

    static func join(_ words: [String], _ end: String) -> String { words.joined(separator: " ") + end }

    /// Two fillers the question lacks (one when it has fewer than 8 distinct words), each put at a
    /// drawn place between two words.
    static func addWords(_ words: [String], draw: Draw, language: String) -> [String] {
        let have = Set(words.flatMap(tokens))
        let choices = (fillers[language] ?? fillers["en"]!).filter { !have.contains($0) }
        guard !choices.isEmpty else { return words }
        let count = have.count >= 8 && choices.count >= 2 ? 2 : 1
        let first = draw.index(64, choices.count)
        var out = words
        for k in 0..<count {
            let word = choices[(first + k) % choices.count]
            out.insert(word, at: 1 + draw.index(65 + UInt64(k), out.count))
        }
        return out
    }

    /// The question cut before a clause opener (else in the middle), its second half put first.
    static func swapClauses(_ words: [String], draw: Draw, language: String) -> [String] {
        let cuts = (1..<words.count).filter { clauseOpeners.contains(words[$0].lowercased()) }
        let cut = cuts.isEmpty ? words.count / 2 : cuts[draw.index(66, cuts.count)]
        var head = Array(words[..<cut])
        var tail = Array(words[cut...])
        if language != "ar" {
            head[0] = lowerFirst(head[0])
            tail[0] = tail[0].prefix(1).uppercased() + tail[0].dropFirst()
        }
        tail[tail.count - 1] += language == "ar" ? "،" : ","
        return tail + head
    }

    /// A comma after a drawn word, and another end mark.
    static func changePunctuation(_ words: [String], _ end: String, draw: Draw) -> String {
        var out = words
        let at = draw.index(67, max(1, out.count - 1))
        if !out[at].hasSuffix(",") { out[at] += "," }
        let marks = end == "؟" ? ["؟؟", "!؟", "."] : ["??", "?!", ".", " ?!"]
        return join(out, draw.pick(68, marks))
    }

    static func lowerFirst(_ word: String) -> String {
        // "I" and acronyms keep their case.
        if word == "I" || word.dropFirst().contains(where: \.isUppercase) { return word }
        return word.prefix(1).lowercased() + word.dropFirst()
    }

    /// A word's tokens as NearDuplicates makes them: lowercase runs of letters and digits.
    static func tokens(_ word: String) -> [String] {
        word.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init)
    }
}

extension MockEngine {
    /// A qa_generator reply, with `nearDuplicateRate`: drawn from the request's hash, the question
    /// replaced by a variant of one given before in the same language; else the question is kept and
    /// remembered. Which earlier question depends on the order requests came in. Each variant is
    /// counted (`/stats`: `near_duplicate_variants`).
    func nearDuplicate(_ reply: AgentReply, draw: Draw, language: String) -> AgentReply {
        guard options.nearDuplicateRate > 0, case .content(let value) = reply,
              let question = value["user_message"]?.stringValue else { return reply }
        let vary = draw.unit(60) < options.nearDuplicateRate
        let earlier: String? = lock.withLock {
            if vary, let earlier = givenQuestions.pick(draw, language: language) {
                counters.nearDuplicateVariants += 1
                return earlier
            }
            givenQuestions.remember(question, language: language)
            return nil
        }
        guard let earlier else { return reply }
        let variant = NearDuplicateVariant.variant(of: earlier, draw: draw, language: language)
        return .content(value.setting("user_message", to: .string(variant)))
    }
}
