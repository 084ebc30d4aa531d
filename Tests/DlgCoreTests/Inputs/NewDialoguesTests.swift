// The one factory of new dialogues, shared by dlg-gen --new and dlg-run.

@testable import DlgCore
import Foundation
import Testing

@Suite struct NewDialoguesTests {
    static let personas = PersonaPool(
        users: (0..<4).map { Persona(id: "u\($0)", name: "User \($0)", traits: ["t\($0)"], style: "s") },
        assistants: (0..<3).map { Persona(id: "a\($0)", name: "Assistant \($0)", traits: [], style: "s") })

    static func factory(_ yaml: String = "run:\n  min_turns: 1\n  max_turns: 6\n  turn_count_distribution: uniform\n  question_seed: qs\n") throws -> (NewDialogues, ConfigFixture) {
        let f = try ConfigFixture(yaml)
        return (NewDialogues(settings: try f.load(), personas: personas), f)
    }

    /// Everything but the creation time.
    static func identity(_ r: JSONObject) -> JSONObject {
        var r = r
        r["created_at"] = nil
        return r
    }

    @Test func theSameRunAndSlotGiveTheSameDialogue() throws {
        let (a, f) = try Self.factory()
        defer { f.cleanup() }
        let (b, g) = try Self.factory()
        defer { g.cleanup() }
        for slot in 0..<12 {
            let x = a.make(run: "r1", language: "en", slot: slot), y = b.make(run: "r1", language: "en", slot: slot)
            #expect(Self.identity(x) == Self.identity(y), "slot \(slot)")
        }
        // Another run with the same run.question_seed draws the same personas and turn counts (its requests
        // are then the same, and the response cache serves them)...
        func draws(_ f: NewDialogues, _ run: String) -> [[JSON?]] {
            (0..<12).map { let r = f.make(run: run, language: "en", slot: $0); return [r["personas"], r["target_turns"]] }
        }
        #expect(draws(a, "r2") == draws(a, "r1"))
        // ...without a question seed, another run draws other personas or turn counts in the first slots.
        let (u, h) = try Self.factory("run:\n  min_turns: 1\n  max_turns: 6\n  turn_count_distribution: uniform\n")
        defer { h.cleanup() }
        #expect(draws(u, "r2") != draws(u, "r1"))
    }

    @Test func idsAreRunLanguageAndFourDigitSlot() throws {
        let (a, f) = try Self.factory()
        defer { f.cleanup() }
        let r = a.make(run: "0123abcd", language: "fr", slot: 7)
        #expect(Record.id(r) == "0123abcd-fr-0007")
        #expect(r["run_id"] == "0123abcd-fr")
        #expect(r["slot"] == 7 && r["index"] == 7)
        #expect(r["language"] == "fr")
        #expect(Record.status(r) == .active && Record.turns(r).isEmpty)
        #expect(RecordCheck.problem(r) == nil, "a new dialogue is a valid record")
        #expect(Record.id(a.make(run: "r", language: "en", slot: 12345)) == "r-en-12345")
        #expect(Record.id(a.make(run: "r", language: "en", slot: 7)) != Record.id(r))
    }

    @Test func languageNamesAreMadeSafe() {
        #expect(NewDialogues.languageRun("r", language: "pt-BR") == "r-pt-BR")
        #expect(NewDialogues.languageRun("r", language: "zh_Hans") == "r-zh_Hans")
        #expect(NewDialogues.languageRun("r", language: "../x y") == "r-___x_y")
        #expect(SafeID.problem(NewDialogues.languageRun("r", language: "a/b\n")) == nil)
    }

    @Test func targetTurnsStayInRangeAndPersonasCycle() throws {
        let (a, f) = try Self.factory()
        defer { f.cleanup() }
        let dialogues = (0..<12).map { a.make(run: "r1", language: "en", slot: $0) }
        #expect(dialogues.allSatisfy { (1...6).contains(Record.targetTurns($0)) })
        #expect(Set(dialogues.map { Record.targetTurns($0) }).count > 1, "uniform over 1...6 varies in 12 draws")
        // Each round of 4 slots uses each of the 4 user personas once.
        for round in 0..<3 {
            let users = dialogues[(round * 4)..<(round * 4 + 4)].compactMap { $0["personas"]?["user_id"]?.stringValue }
            #expect(Set(users) == ["u0", "u1", "u2", "u3"], "round \(round): \(users)")
        }
        let first = dialogues[0]["personas"]
        #expect(first?["user"]?.stringValue?.hasPrefix("User ") == true)
        #expect(first?["assistant_id"]?.stringValue?.hasPrefix("a") == true)
    }

    @Test func theQuestionSeedChangesTheDraws() throws {
        let (a, f) = try Self.factory()
        defer { f.cleanup() }
        let (b, g) = try Self.factory("run:\n  min_turns: 1\n  max_turns: 6\n  turn_count_distribution: uniform\n  question_seed: other\n")
        defer { g.cleanup() }
        let x = (0..<12).map { Self.identity(a.make(run: "r1", language: "en", slot: $0)) }
        let y = (0..<12).map { Self.identity(b.make(run: "r1", language: "en", slot: $0)) }
        #expect(x.map(Record.id) == y.map(Record.id), "ids do not depend on the seed")
        #expect(x != y)
    }
}
