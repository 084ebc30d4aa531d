// Reply content for each agent: deterministic in (seed, messages) and varied enough that
// distinct prompts practically never produce the same question.

/// What the assistant says: a JSON object (serialized as content) or a tool call.
enum AgentReply {
    case content(JSONValue)
    case toolCall(id: String, name: String, arguments: String)
}

/// Builds agent replies from a parsed request and its content hash.
struct AgentReplies {
    let request: ChatRequest
    let draw: Draw
    let duplicateRate: Double
    let toolCalls: Bool
    var replyBytes = 0

    /// Generic questions that the duplicate-rate draw returns; they collide across dialogues.
    static let duplicatePool = [
        "What is this system used for?",
        "How do I get started with this?",
        "Can you explain how this works?",
    ]

    /// The prompt asks for French (`fr`, or upstream's name): answer in French so language checks pass.
    let french: Bool

    /// The prompt asks for Arabic or one of upstream's Arabic varieties (`morocco`, `msa`, `gulf`, ...).
    let arabic: Bool

    init(request: ChatRequest, draw: Draw, duplicateRate: Double, toolCalls: Bool) {
        self.request = request
        self.draw = draw
        self.duplicateRate = duplicateRate
        self.toolCalls = toolCalls
        let language = AgentReplies.targetLanguage(request.last("system") ?? "")
        french = ["fr", "french", "france"].contains(language)
        arabic = ["ar", "arabic", "msa", "morocco", "moroccan", "gulf", "levantine", "egypt", "egyptian", "saudi", "uae",
                  "iraqi", "tunisian", "algerian"].contains(language)
    }

    /// The reply's language: "ar", "fr" or "en" (near-duplicates repeat questions of the same one).
    var languageKey: String { arabic ? "ar" : (french ? "fr" : "en") }

    /// The target language the system prompt names (`language "fr"`), lowercased.
    static func targetLanguage(_ system: String) -> String {
        // Bytes when the match and the name are plain ASCII (then Foundation's search and Character
        // slicing find the same); Foundation otherwise, as before.
        if let ascii = TextTools.asciiValue(after: "language \"", in: system) { return ascii }
        guard let start = system.range(of: "language \"") else { return "" }
        let rest = system[start.upperBound...]
        return String(rest[..<(rest.firstIndex(of: "\"") ?? rest.endIndex)]).lowercased()
    }

    static let duplicatePoolArabic = ["ما فائدة هذا النظام؟", "كيف أبدأ باستخدام هذا؟", "هل يمكنك شرح طريقة عمله؟"]

    static let templatesArabic: [(String, String, String)] = [
        ("كيف يعمل ", " مع ", ""),
        ("ما الفرق بين ", " و", ""),
        ("لماذا يتوقف ", " عن العمل عندما أغير ", ""),
        ("هل يناسب ", " احتياجات ", ""),
        ("هل يمكنك أن تعطيني مثالا على استخدام ", " مع ", ""),
        ("ماذا يحدث لـ", " إذا لم يكن ", " متاحا"),
    ]

    func detailArabic() -> String {
        switch draw.index(20, 4) {
        case 0: return " لفريق من \(draw.int(21, in: 2...2000)) شخصا في بيئة الإنتاج لدينا"
        case 1: return " مع حوالي \(draw.int(21, in: 1...20000)) جيجابايت من البيانات في نظامنا الحالي"
        case 2: return " عندما يكون \(draw.int(21, in: 2...50000)) مستخدما نشطين في الوقت نفسه"
        default: return " بعد \(draw.int(21, in: 1...3650)) يوما من التشغيل الفعلي في الشركة"
        }
    }

    static let duplicatePoolFrench = [
        "À quoi sert ce système ?",
        "Comment commencer avec cela ?",
        "Pouvez-vous expliquer comment cela fonctionne ?",
    ]

    static let templatesFrench: [(String, String, String)] = [
        ("Comment fonctionne ", " avec ", ""),
        ("Pourquoi ", " pose-t-il problème quand on change ", ""),
        ("Quelle est la différence entre ", " et ", ""),
        ("Est-ce que ", " convient pour ", ""),
        ("Que se passe-t-il pour ", " si ", " est indisponible"),
        ("Pouvez-vous donner un exemple de ", " avec ", ""),
    ]

    func detailFrench() -> String {
        switch draw.index(20, 4) {
        case 0: return " pour une équipe de \(draw.int(21, in: 2...2000)) personnes"
        case 1: return " avec environ \(draw.int(21, in: 1...20000)) Go de données"
        case 2: return " quand \(draw.int(21, in: 2...50000)) utilisateurs sont actifs en même temps"
        default: return " après \(draw.int(21, in: 1...3650)) jours en production"
        }
    }

    static let intents = ["clarify", "how_to", "troubleshoot", "compare", "edge_case", "example_request", "decision_support", "constraints"]
    static let defaultReasons = ["irrelevant", "incorrect", "hallucinated", "weak_grounding", "vague", "incomplete", "unsafe", "other"]

    /// Per intent: question = p1 + a + p2 + b + p3 + detail + "?".
    static let templates: [[(String, String, String)]] = [
        [("What exactly is meant by ", " in relation to ", ""),
         ("Could you clarify how ", " relates to ", ""),
         ("Does ", " mean the same thing as ", " here")],
        [("How do I set up ", " together with ", ""),
         ("What are the steps to configure ", " so that it works with ", ""),
         ("How can I enable ", " for ", "")],
        [("Why does ", " stop working when I change ", ""),
         ("What should I check if ", " fails after I update ", ""),
         ("Why am I seeing errors from ", " whenever I touch ", "")],
        [("What is the difference between ", " and ", ""),
         ("Is ", " a better fit than ", ""),
         ("How does ", " compare to ", "")],
        [("What happens to ", " if ", " is temporarily unavailable"),
         ("Does ", " still behave correctly when ", " is empty"),
         ("How large can ", " grow before ", " becomes a problem")],
        [("Can you show an example of using ", " with ", ""),
         ("Could you walk me through an example where ", " interacts with ", ""),
         ("What would a typical ", " setup look like with ", "")],
        [("Should we rely on ", " or on ", ""),
         ("Would you recommend ", " over ", ""),
         ("Is it worth switching to ", " instead of ", "")],
        [("Are there any restrictions on ", " when combined with ", ""),
         ("What are the limits of ", " with respect to ", ""),
         ("Which requirements does ", " impose on ", "")],
    ]

    static let regions = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-northeast", "sa-east", "ca-central", "on-premises", "staging", "edge", "hybrid"]
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    static let fallbackWords = ["the configuration", "the deployment", "permissions", "the workflow", "storage", "the integration", "reporting", "authentication"]

    /// A distinguishing detail: a usage context plus an environment, both hash-derived.
    func detail() -> String {
        let context: String
        switch draw.index(20, 6) {
        case 0: context = " for a team of \(draw.int(21, in: 2...2000)) people"
        case 1: context = " with about \(draw.int(21, in: 1...20000)) GB of data"
        case 2: context = " when \(draw.int(21, in: 2...50000)) users are active at once"
        case 3: context = " on a cluster of \(draw.int(21, in: 2...1000)) nodes"
        case 4: context = " after \(draw.int(21, in: 1...3650)) days in production"
        default: context = " with \(draw.int(21, in: 10...100_000)) records per batch"
        }
        let environment: String
        switch draw.index(22, 3) {
        case 0: environment = " on version \(draw.int(23, in: 1...12)).\(draw.int(24, in: 0...39)).\(draw.int(25, in: 0...19))"
        case 1: environment = " in our \(draw.pick(23, AgentReplies.regions)) setup with \(draw.int(24, in: 2...64)) replicas"
        default: environment = " since the \(draw.pick(23, AgentReplies.months)) \(draw.int(24, in: 2015...2030)) update"
        }
        return context + environment
    }

    func reply(for agent: MockAgent) -> AgentReply {
        switch agent {
        case .qaGenerator: return .content(qaGenerator())
        case .kbResponder: return kbResponder()
        case .qaJudge, .conversationJudge: return .content(judge())
        case .unknown: return .content(.object([("answer", .string("ok"))]))
        }
    }

    // MARK: qa_generator

    func qaGenerator() -> JSONValue {
        let prompt = request.last("user") ?? request.allText
        // Distinct words (indices into `words`), the noun-like ones when there are two.
        let words = WordList(prompt, minLength: 4, filter: true, distinct: true)
        var candidates = Array(0..<words.count)
        let nounLike = candidates.filter(words.isNounLike)
        if nounLike.count >= 2 { candidates = nounLike }
        let first: String
        let second: String
        if candidates.count >= 2 {
            let i = draw.index(1, candidates.count)
            first = words.string(candidates[i])
            // Avoid pairs like "refund" / "refunds": a few hash-derived tries for a different stem.
            var j = 0
            for attempt in 0..<4 {
                j = draw.index(2 + UInt64(attempt) * 100, candidates.count - 1)
                if j >= i { j += 1 }
                if !words.samePrefix5(candidates[j], candidates[i]) { break }
            }
            second = words.string(candidates[j])
        } else {
            first = candidates.first.map(words.string) ?? draw.pick(1, AgentReplies.fallbackWords)
            var other = draw.pick(2, AgentReplies.fallbackWords)
            if other == first { other = "the rest of the system" }
            second = other
        }
        let intentIndex = draw.index(3, AgentReplies.intents.count)
        let question: String
        if arabic {
            if draw.unit(4) < duplicateRate {
                question = draw.pick(5, AgentReplies.duplicatePoolArabic)
            } else {
                let (p1, p2, p3) = draw.pick(6, AgentReplies.templatesArabic)
                question = p1 + first + p2 + second + p3 + detailArabic() + "؟"
            }
        } else if french {
            if draw.unit(4) < duplicateRate {
                question = draw.pick(5, AgentReplies.duplicatePoolFrench)
            } else {
                let (p1, p2, p3) = draw.pick(6, AgentReplies.templatesFrench)
                question = p1 + first + p2 + second + p3 + detailFrench() + " ?"
            }
        } else if draw.unit(4) < duplicateRate {
            question = draw.pick(5, AgentReplies.duplicatePool)
        } else {
            let (p1, p2, p3) = draw.pick(6, AgentReplies.templates[intentIndex])
            question = p1 + first + p2 + second + p3 + detail() + "?"
        }
        let allText = request.allText
        let topic = TextTools.firstStringValue(forKey: "topic_id", in: allText) ?? "general"
        let source = TextTools.firstStringValue(forKey: "source", in: prompt)
            ?? TextTools.firstStringValue(forKey: "title", in: prompt)
            ?? "knowledge snippet"
        var facts: [JSONValue] = [
            .object([("fact", .string(fact(about: first, in: prompt))), ("source_descriptor", .string(source))]),
        ]
        if draw.index(7, 2) == 1 {
            facts.append(.object([("fact", .string(fact(about: second, in: prompt))), ("source_descriptor", .string(source))]))
        }
        var notes: [JSONValue] = [.string("Ground the answer in the knowledge snippets."), .string("Mention \(first) explicitly.")]
        if draw.index(8, 2) == 1 { notes.append(.string("Keep the answer short and practical.")) }
        return .object([
            ("user_message", .string(question)),
            ("intent", .string(AgentReplies.intents[intentIndex])),
            ("difficulty", .string(draw.pick(9, ["easy", "medium", "medium", "hard"]))),
            ("grounding_facts", .array(facts)),
            ("coverage_target", .string(topic)),
            ("notes_for_assistant", .array(notes)),
        ])
    }

    private func fact(about word: String, in text: String) -> String {
        TextTools.fragment(around: word, in: text) ?? "The knowledge snippet mentions \(word)."
    }

    // MARK: kb_responder

    func kbResponder() -> AgentReply {
        // A prompt that ends with "Question: ..." (after passages, history, hints) asks that question;
        // a model would answer it and restate only it in its trace, not the passages around it.
        let message = request.last("user") ?? ""
        let question = TextTools.afterLastMarker("Question:", in: message) ?? message
        var queryWords = TextTools.words(in: question, minLength: 3, filter: true, limit: 8)
        if queryWords.isEmpty { queryWords = TextTools.words(in: question, limit: 8) }
        let query = queryWords.isEmpty ? TextTools.collapsed(question, maxBytes: 80) : queryWords.joined(separator: " ")
        let toolMessage = request.last("tool")
        if toolCalls, toolMessage == nil, let call = kbToolCall(query: query) { return call }
        let topic = queryWords.first(where: { $0.utf8.count >= 4 }) ?? queryWords.first ?? "this"
        let other = queryWords.count > 1 ? queryWords[draw.index(31, queryWords.count - 1) + 1] : "your setup"
        let (evidenceText, cue) = kbEvidence(toolMessage: toolMessage, topic: topic)
        let answer = kbAnswer(topic: topic, other: other, evidenceText: evidenceText, retrieved: toolMessage != nil)
        let confidence = toolMessage != nil ? draw.pick(35, ["high", "high", "medium"]) : draw.pick(35, ["low", "medium"])
        return .content(.object([
            ("assistant_message", .string(answer)),
            ("reasoning_trace", .object([
                ("question", .string(question)),
                ("retrieval_queries", .object([
                    ("vector_db_search", .array(toolMessage != nil ? [.string(query)] : [])),
                    ("web_search", .array([])),
                ])),
                ("evidence", .array(evidence(cue: cue, first: evidenceText))),
                ("premises", .array([.object([
                    ("id", .string("P1")),
                    ("text", .string("The evidence addresses \(topic).")),
                    ("evidence_refs", .array([.string("E1")])),
                ])])),
                ("thinking", .array([.object([("text", .string("The user asks about \(topic); answer from E1 and mention \(other)."))])])),
                ("confidence", .string(confidence)),
                ("known_limits", .array([.string(toolMessage != nil ? "Only the retrieved snippets were consulted." : "No retrieval was performed.")])),
            ])),
            ("did_web_search", .bool(false)),
        ]))
    }

    /// Offered web_search (tools.web_search_enabled), the mock searches the web first, then answers;
    /// offered the knowledge base's search, it searches that. Nil: no tool to call.
    func kbToolCall(query: String) -> AgentReply? {
        for name in ["web_search", "vector_db_search"] where request.toolNames.contains(name) {
            var arguments = JSONWriter(capacity: 64)
            let k: [(String, JSONValue)] = name == "vector_db_search" ? [("k", .int(3))] : []
            arguments.value(.object([("query", .string(query))] + k))
            return .toolCall(id: "call_" + hex(draw.bits(30)), name: name, arguments: arguments.text)
        }
        return nil
    }

    /// What the answer rests on: the tool's result, else a passage of the system prompt about `topic`.
    func kbEvidence(toolMessage: String?, topic: String) -> (text: String, cue: String) {
        if let toolMessage {
            let text = TextTools.firstStringValue(forKey: "text", in: toolMessage)
                ?? TextTools.firstStringValue(forKey: "content", in: toolMessage)
                ?? toolMessage
            return (TextTools.collapsed(text, maxBytes: 160), "KB: " + TextTools.collapsed(text, maxBytes: 40))
        }
        let system = request.last("system") ?? ""
        let text = TextTools.fragment(around: topic, in: system, maxBytes: 160)
            ?? TextTools.firstSentence(in: system, maxBytes: 160)
            ?? "No retrieved evidence; general product knowledge."
        return (text, "KB: no retrieval performed")
    }

    /// The answer's text, in the dialogue's language.
    func kbAnswer(topic: String, other: String, evidenceText: String, retrieved: Bool) -> String {
        if arabic {
            return "وفقا لقاعدة المعرفة، يتم التعامل مع \(topic) من خلال الإعدادات القياسية المعروفة. "
                + draw.pick(33, ["بالنسبة إلى \(other)، طبق نفس الطريقة ثم تحقق من النتيجة بعد ذلك.",
                                 "إذا كان \(other) معنيا، فتحقق أولا من الإعدادات المرتبطة به في النظام.",
                                 "في حالتك، يتبع \(other) القيم الافتراضية ما لم تقم بتغييرها من قبل."])
        }
        if french {
            return (retrieved
                ? draw.pick(32, ["D'après la base de connaissances, ", "La documentation indique : ", "Selon les notes retrouvées, "]) + "« \(evidenceText) ». "
                : "En général, \(topic) se règle avec les paramètres standard. ")
                + draw.pick(33, ["Pour \(other), appliquez la même méthode et vérifiez le résultat ensuite.",
                                 "Si \(other) est concerné, vérifiez d'abord la configuration associée.",
                                 "Dans votre cas, \(other) suit les valeurs par défaut si vous ne les avez pas changées."])
        }
        let opening = retrieved
            ? draw.pick(32, ["According to the knowledge base, ", "The documentation says: ", "From the retrieved notes: "]) + "\"\(evidenceText)\". "
            : draw.pick(32, ["Based on what I know, ", "In general, ", "As far as the documentation goes, "])
                + "\(topic) is handled through the standard settings. "
        let middle = draw.pick(33, [
            "For \(other), apply the same approach and verify the result afterwards.",
            "When \(other) is involved, check the related configuration first.",
            "This also applies to \(other), with the limits described there.",
            "In your case, \(other) should follow the defaults unless you changed them.",
        ])
        let closing = draw.pick(34, [
            " Let me know if you need more detail.",
            " If your setup differs, the documentation lists further options.",
            " I hope this helps.",
            "",
        ])
        return opening + middle + closing
    }

    /// E1 from the retrieved passage; with `replyBytes`, more items restating it until the reply is about
    /// that long (each ~200 bytes of JSON).
    func evidence(cue: String, first: String) -> [JSONValue] {
        var items: [JSONValue] = [.object([("id", .string("E1")), ("cue", .string(cue)), ("content", .string(first))])]
        var size = 600 + first.utf8.count
        var n = 2
        while size < replyBytes {
            let content = "Supporting detail \(n): \(first)"
            items.append(.object([("id", .string("E\(n)")), ("cue", .string(cue)), ("content", .string(content))]))
            size += content.utf8.count + cue.utf8.count + 40
            n += 1
        }
        return items
    }

    // MARK: judges

    func judge() -> JSONValue {
        let roll = draw.index(40, 100)
        let score = roll < 8 ? draw.int(41, in: 0...5) : draw.int(41, in: 6...10)
        let labels = TextTools.allowedLabels(in: request.allText) ?? AgentReplies.defaultReasons
        let count = score >= 9 ? 0 : (score >= 7 ? draw.index(42, 2) : 1 + draw.index(42, 2))
        var reasons: [JSONValue] = []
        if count > 0, !labels.isEmpty {
            let first = draw.index(43, labels.count)
            reasons.append(.string(labels[first]))
            if count > 1, labels.count > 1 {
                reasons.append(.string(labels[(first + 1 + draw.index(44, labels.count - 1)) % labels.count]))
            }
        }
        let notes = score >= 8
            ? draw.pick(45, ["Accurate and well grounded.", "Clear, grounded answer.", "Good answer with relevant detail."])
            : draw.pick(45, ["Partly grounded; some claims lack support.", "Answer is vague in places.", "Misses part of the question."])
        return .object([
            ("score", .int(score)),
            ("reasons", .array(reasons)),
            ("notes", .string(notes)),
            ("question_ok", .bool(score >= 4)),
            ("answer_ok", .bool(score >= 6)),
        ])
    }
}

/// 16 lowercase hex digits.
func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
