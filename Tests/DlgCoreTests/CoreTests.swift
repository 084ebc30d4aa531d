import Foundation
import Logging
import Testing
@testable import DlgCore
import DlgTestSupport

@Suite struct HashingTests {
    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(String(repeating: "a", count: 1000)).hasPrefix("41edece42d63e8d9bf515a9ba6932e1c"))
    }

    @Test func seededRandomIsStable() {
        var a = SeededRandom("x"), b = SeededRandom("x"), c = SeededRandom("y")
        let sa = (0..<5).map { _ in a.next() }
        #expect(sa == (0..<5).map { _ in b.next() })
        #expect(sa != (0..<5).map { _ in c.next() })
    }
}

@Suite struct RetrievalTests {
    @Test func chunksSlideWithOverlapAndStableIDs() {
        let text = String(repeating: "abcdefghij", count: 30)   // 300 characters
        let chunks = KnowledgeBase.chunk(text: text, source: "a/b.md", size: 100, overlap: 20)
        #expect(chunks.map { $0.charStart } == [0, 80, 160, 240])
        #expect(chunks.last?.charEnd == 300)
        #expect(chunks[0].id.hasSuffix("-0") && chunks[0].id == KnowledgeBase.chunk(text: text, source: "a/b.md", size: 100, overlap: 20)[0].id)
        #expect(chunks[0].id != KnowledgeBase.chunk(text: text, source: "c.md", size: 100, overlap: 20)[0].id)
    }

    @Test func bm25RanksTheMatchingDocumentFirst() {
        let bm = BM25(documents: ["chain lubricant and chain wear", "compost needs browns and greens", "sourdough starter feeding"])
        let s = bm.scores("how often should I oil the chain")
        #expect(s[0] > s[1] && s[0] > s[2])
    }
}

@Suite struct ValidationTests {
    @Test func judgeScoreClampedAndReasonsKeptToAllowedSet() throws {
        let o = try #require(ReplyJSON.extract(#"Sure: {"score": 14, "reasons": ["vague", "made_up", "vague"], "notes": "x"}"#))
        let v = try ReplyValidation.judge(o, reasons: ["vague", "other"]).get()
        #expect(v["score"] == 10)
        #expect(v["reasons"] == ["vague", "other"])
        #expect(v["question_ok"] == true)
        let bad = try #require(ReplyJSON.extract(#"{"score": "high"}"#))
        #expect(throws: DropReason.self) { try ReplyValidation.judge(bad, reasons: ["other"]).get() }
    }

    @Test func answerEchoAndEmptyAreRejected() throws {
        let echo: JSONObject = ["assistant_message": "  What is X? ", "reasoning_trace": .obj([:])]
        #expect(throws: DropReason.echoedQuestion) { try ReplyValidation.answer(echo, question: "what is  x?").get() }
        let empty: JSONObject = ["assistant_message": " "]
        #expect(throws: DropReason.emptyAnswer) { try ReplyValidation.answer(empty, question: "q").get() }
        let wrongType: JSONObject = ["assistant_message": 3]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.answer(wrongType, question: "q").get() }
    }

    @Test func copiedPassageIsNotAQuestion() {
        let passage = "A chain should be cleaned and lubricated every 300 to 500 kilometres, and after any ride in the rain."
        let o: JSONObject = ["user_message": .string(passage)]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(o, snippets: [passage]).get() }
    }

    @Test func traceNormalisation() {
        let t: JSONObject = ["thinking": "one step", "premises": [.obj(["id": "P1", "text": "t", "note": true])],
                             "retrieval_queries": .obj(["vector_db_search": ["en", "chain wear", "ab"]])]
        let n = ReasoningTrace.normalize(t, question: "q")
        #expect(n["thinking"] == [.obj(["text": "one step"])])
        #expect(n["premises"]?.arrayValue?.first?["assumption"] == "true")
        #expect(n["retrieval_queries"]?["vector_db_search"] == ["chain wear"])
        #expect(n["question"] == "q")
    }

    @Test func extractsJSONFromFencesAndProse() {
        #expect(ReplyJSON.extract("```json\n{\"a\": 1}\n```")?["a"] == 1)
        #expect(ReplyJSON.extract("no json here") == nil)
        #expect(ReplyJSON.extract("{\"a\": \"cut") == nil)
    }
}

@Suite struct DedupStoreTests {
    func candidate(_ id: String, _ turn: Int, _ q: String) -> DedupCandidate {
        DedupCandidate(conversationID: id, turnIndex: turn, question: q,
                       ledgerEntry: ["question": .string(q), "conversation_id": .string(id), "turn_index": .int(turn)])
    }

    @Test func lowestSlotWinsAndRerunsAreIdempotent() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        let store = try FileDedupStore(path: path)
        let first = try store.filterAndCommit([candidate("c1", 1, "How do I oil a chain?"),
                                               candidate("c2", 1, "how do  i OIL a chain?"),
                                               candidate("c3", 1, "")])
        #expect(first == [true, false, false])
        // Another process (a resumed run) sees the same decisions, and the same question for the
        // same conversation and turn is accepted again without a second ledger line.
        let other = try FileDedupStore(path: path)
        #expect(try other.filterAndCommit([candidate("c1", 1, "How do I oil a chain?"),
                                           candidate("c2", 1, "How do I oil a chain?")]) == [true, false])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1)
    }

    @Test func tornLastLineIsCutBeforeAppending() throws {
        let path = NSTemporaryDirectory() + "dlg-ledger-\(UUID().uuidString).jsonl"
        defer { unlink(path) }
        try "{\"question\":\"a?\",\"conversation_id\":\"c1\",\"turn_index\":1}\n{\"question\":\"b".write(toFile: path, atomically: true, encoding: .utf8)
        let store = try FileDedupStore(path: path)
        #expect(try store.filterAndCommit([candidate("c2", 1, "b?"), candidate("c3", 1, "a?")]) == [true, false])
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        for l in lines { #expect((try? JSONCodec.parse(String(l))) != nil) }
    }
}

@Suite struct SamplingTests {
    @Test func turnCountsStayInRange() {
        let run = RunSettings(nTurns: 2, batchSize: 1, totalSamples: 1, minTurns: 1, maxTurns: 3,
                              turnCountDistribution: "poisson", turnCountMean: 8, targetLanguages: ["en"],
                              seedQuestion: "", questionSeed: "", runID: "", resumeRunID: "", seedTopicsPath: "",
                              seedTopicsVariant: "", seedTopicsProbability: 0, seedTopicsEnabled: false,
                              distributedEnabled: false)
        var rng = SeededRandom("t")
        for dist in ["uniform", "poisson", "exponential"] {
            var r = run
            r.turnCountDistribution = dist
            let counts = (0..<200).map { _ in TurnCount.sample(r, rng: &rng) }
            #expect(counts.allSatisfy { (1...3).contains($0) })
        }
    }

    @Test func personaCycleUsesEveryPersonaOncePerRound() {
        let pool = Array(0..<5)
        let firstRound = (0..<5).map { PersonaPool.cyclePick(pool, slot: $0, seed: "s") }
        #expect(Set(firstRound).count == 5)
        let secondRound = (5..<10).map { PersonaPool.cyclePick(pool, slot: $0, seed: "s") }
        #expect(Set(secondRound).count == 5)
    }
}

@Suite struct WeakModelTests {
    @Test func placeholdersAndNonQuestionsAreRejected() {
        let template: JSONObject = ["user_message": "<the question, in en, under 300 characters>"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(template, snippets: []).get() }
        let statement: JSONObject = ["user_message": "1. Your answer must explain itself."]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(statement, snippets: []).get() }
        let ok: JSONObject = ["user_message": "Pourquoi mon compost sent-il mauvais ?"]
        #expect((try? ReplyValidation.question(ok, snippets: []).get()) != nil)
        let imperative: JSONObject = ["user_message": "Explain how often to feed a starter"]
        #expect((try? ReplyValidation.question(imperative, snippets: []).get()) != nil)
        let answer: JSONObject = ["assistant_message": "<the answer, in en>"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.answer(answer, question: "q?").get() }
    }
}

@Suite struct LanguageCheckTests {
    @Test func clearMismatchesAreCaughtAndShortTextPasses() {
        #expect(LanguageCheck.isWrong("Das hängt von Ihrer Konfiguration ab; bitte prüfen Sie die Dokumentation.", language: "en"))
        #expect(LanguageCheck.isWrong("Wie kann ich das in meinem Projekt am besten einrichten?", language: "fr"))
        #expect(!LanguageCheck.isWrong("Comment fonctionne la chaîne avec le lubrifiant pour une équipe de 3 personnes ?", language: "fr"))
        #expect(!LanguageCheck.isWrong("How often should I oil the chain of my bike?", language: "en"))
        #expect(!LanguageCheck.isWrong("Chain?", language: "fr"))
        #expect(LanguageCheck.isWrong("How often should I oil the chain of my bike?", language: "ar"))
        #expect(!LanguageCheck.isWrong("كم مرة يجب أن أزيت سلسلة دراجتي؟", language: "ar"))
        #expect(!LanguageCheck.isWrong("anything at all here", language: "sw"))
    }
}

@Suite struct EchoTests {
    @Test func rewordedEchoAndPathAnswersAreRejected() {
        let q = "You are asked to create a plan to bake a cake. What steps should you take?"
        let echo: JSONObject = ["assistant_message": "A plan to bake a cake. What steps should you take?"]
        #expect(throws: DropReason.echoedQuestion) { try ReplyValidation.answer(echo, question: q).get() }
        let path: JSONObject = ["assistant_message": "./a/assistant_message_1.json"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.answer(path, question: q).get() }
        let real: JSONObject = ["assistant_message": "Mix flour, sugar and eggs, then bake for 30 minutes at 180 degrees."]
        #expect((try? ReplyValidation.answer(real, question: q).get()) != nil)
        let narrated: JSONObject = ["user_message": "The user asked: How do I feed a starter?"]
        #expect((try? ReplyValidation.question(narrated, snippets: []).get())?["user_message"] == "How do I feed a starter?")
    }
}

@Suite struct CopiedPassageTests {
    @Test func aPassageWithAQuestionMarkAddedIsStillACopy() {
        let passage = "The pile should feel like a wrung-out sponge. If it is dry, add water or fresh greens; if it is soggy, add browns and turn it."
        let copy: JSONObject = ["user_message": "The pile should feel like a wrung-out sponge. If it is dry, add water?"]
        #expect(throws: DropReason.invalidOutput) { try ReplyValidation.question(copy, snippets: [passage]).get() }
        let own: JSONObject = ["user_message": "How wet should my compost pile be?"]
        #expect((try? ReplyValidation.question(own, snippets: [passage]).get()) != nil)
    }

    @Test func theQuestionSchemaAsksForAQuestionMark() {
        let pattern = AgentSchemas.qaGeneration["properties"]?["user_message"]?["pattern"]?.stringValue ?? ""
        let regex = try! Regex(pattern)
        #expect("How wet should my compost be?".wholeMatch(of: regex) != nil)
        #expect("Comment fonctionne la chaîne ?".wholeMatch(of: regex) != nil)
        #expect("The pile should feel like a sponge.".wholeMatch(of: regex) == nil)
    }
}

@Suite struct SeedTopicTests {
    @Test func eachSeedQuestionServesOneSlot() {
        let topics = SeedTopics(topics: [("bikes", ["b1", "b2"]), ("compost", ["c1"]), ("bread", ["d1", "d2", "d3"])])
        let picks = (0..<8).map { topics.question(forSlot: $0)?.question }
        #expect(picks == ["b1", "c1", "d1", "b2", "d2", "d3", nil, nil])
    }
}

@Suite struct SmallFormatTests {
    /// The hand-written timestamp formats match what String(format:) and Python's logging print.
    @Test func timestampsArePaddedLikePythons() {
        // Fractions a Double holds exactly (the formats truncate, as before).
        let date = Date(timeIntervalSince1970: 1_767_225_600.25)   // 2026-01-01 00:00:00.25 UTC
        #expect(Timestamps.isoUTC(date) == "2026-01-01T00:00:00.250000+00:00")
        #expect(Timestamps.isoZ(date) == "2026-01-01T00:00:00.250000Z")
        var t = time_t(date.timeIntervalSince1970)
        var tm = tm()
        localtime_r(&t, &tm)
        let expected = String(format: "%04d-%02d-%02d %02d:%02d:%02d,%03d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                              tm.tm_hour, tm.tm_min, tm.tm_sec, 250)
        #expect(Timestamps.log(date) == expected)
        let early = Date(timeIntervalSince1970: 946_771_509.0625)   // 2000-01-02 00:05:09.0625 UTC
        #expect(Timestamps.isoUTC(early) == "2000-01-02T00:05:09.062500+00:00")
    }

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

@Suite struct LogTests {
    /// swift-log through the file handler: upstream's line format, metadata as sorted key=value pairs.
    @Test func fileHandlerWritesUpstreamsLineFormat() throws {
        let work = try WorkDir(copyExamples: false, label: "dlg-log")
        let dir = work.path + "/logs"
        let log = DlgLog.logger("dlg.test", logsDir: dir, file: "run.log")
        log.info("hello", metadata: ["dlg_turn_index": "2", "dlg_conversation_id": "c1"])
        log.warning("careful")
        log.debug("not written: below the level")
        let lines = try String(contentsOfFile: dir + "/run.log", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        let stamp = #"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"#
        #expect(lines[0].range(of: "^\(stamp) \\| INFO \\| dlg.test \\| hello dlg_conversation_id=c1 dlg_turn_index=2$", options: .regularExpression) != nil, "\(lines[0])")
        #expect(lines[1].range(of: "^\(stamp) \\| WARNING \\| dlg.test \\| careful$", options: .regularExpression) != nil, "\(lines[1])")
    }

    @Test func anUnwritableFolderLogsNothing() {
        let log = DlgLog.logger("dlg.test", logsDir: "/proc/no-such-folder", file: "run.log")
        log.info("goes nowhere")   // must not crash or throw
    }
}

@Suite struct AtomicFileTests {
    @Test func commitPutsTheWholeFileInPlaceAndDiscardLeavesTheOldOne() throws {
        let work = try WorkDir(copyExamples: false, label: "dlg-atomic")
        let dir = work.path
        let path = dir + "/data.jsonl"
        try Files.writeAtomically("old\n", to: path)
        do {
            let file = try AtomicFile(path, bufferSize: 8)
            try file.write(Array("small ".utf8))                            // buffered
            try file.write(Array(String(repeating: "x", count: 40).utf8))    // straight through
            try file.write(Array("\n".utf8))
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n", "not in place before commit")
            try file.commit()
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "small " + String(repeating: "x", count: 40) + "\n")
        do {
            let abandoned = try AtomicFile(path)
            try abandoned.write(Array("half".utf8))
        }   // dropped without commit
        #expect(try String(contentsOfFile: path, encoding: .utf8).hasPrefix("small "))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["data.jsonl"], "no temporary left")
    }
}

@Suite struct SchemaTests {
    /// Every object in the agents' schemas is closed and every string and list bounded: under a
    /// grammar (llama.cpp) an open object or an unbounded string lets a small model run to max_tokens.
    @Test func everyObjectIsClosedAndEveryValueBounded() {
        func check(_ schema: JSON, _ path: String) {
            switch schema["type"]?.stringValue {
            case "object":
                #expect(schema["additionalProperties"] == false, "\(path) allows other properties")
                for (key, value) in schema["properties"]?.objectValue?.pairs ?? [] { check(value, "\(path).\(key)") }
            case "array":
                #expect(schema["maxItems"]?.intValue != nil, "\(path) has no maxItems")
                if let items = schema["items"] { check(items, "\(path)[]") }
            case "string":
                #expect(schema["maxLength"] != nil || schema["enum"] != nil || schema["pattern"] != nil, "\(path) is unbounded")
            default:
                break
            }
        }
        check(AgentSchemas.qaGeneration, "qa_generator")
        check(AgentSchemas.kbAnswer, "kb_responder")
        check(AgentSchemas.judge(reasons: ["vague", "other"]), "judge")
    }
}

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

@Suite struct DatasetStatsTests {
    @Test func histogramsHaveTwelveBinsOfEqualWidth() {
        #expect(DatasetStats.histogram([]) == .obj([:]))
        #expect(DatasetStats.histogram([5, 5]) == .obj(["5-5": 2]), "one bin when every value is the same")
        let wide = DatasetStats.histogram(Array(1...24))
        #expect(wide.objectValue?.pairs.map(\.key) == ["1-2", "3-4", "5-6", "7-8", "9-10", "11-12", "13-14", "15-16",
                                                        "17-18", "19-20", "21-22", "23-24"])
        let uneven = DatasetStats.histogram([0, 30])   // width ceil(31 / 12) = 3
        #expect(uneven.objectValue?.pairs.first?.key == "0-2" && uneven.objectValue?.pairs.last?.key == "30-32")
        #expect(uneven.objectValue?.pairs.map { $0.value.intValue ?? 0 }.reduce(0, +) == 2)
    }

    @Test func scoresAreRoundedThenClamped() {
        let b = DatasetStats.scoreBuckets([-1, 0.4, 6.5, 7.49, 12])
        #expect(b["0"] == 2 && b["6"] == 1 && b["7"] == 1 && b["10"] == 1, "half to even, as upstream: \(b.serialized())")
        #expect(DatasetStats.mean([1, 2, 2]) == .double(1.6667) && DatasetStats.mean([]) == .null)
    }
}
