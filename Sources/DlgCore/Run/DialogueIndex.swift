import Foundation

/// What the run keeps of one dialogue it does not hold: 48 bytes, the same for any dialogue (no heap
/// String, JSON or dictionary). Where its latest state is in the journal, and what the counts, the
/// order and the run state file read of it; the language, the drop reason and the id's prefix are
/// indexes into the small tables of `DialogueIndex`.
struct IndexEntry {
    /// Byte offset of the latest state's line in the journal file (0 in the database's journal).
    var offset: Int
    var slot: Int
    /// The line's length with its newline.
    var length: UInt32
    var turns: Int32
    var targetTurns: Int32
    var language: UInt32
    /// Index into the id prefixes; `DialogueIndex.oddID` when the id is not `<prefix><slot, 4 digits>`.
    var idPrefix: UInt32
    var dropReason: UInt32
    var status: UInt8
    var flags: UInt8

    static let held: UInt8 = 1
    /// `index` is not the slot (as an int): it is in `DialogueIndex.oddIndexes`.
    static let oddIndex: UInt8 = 2
}

/// What the run state file and the tests read of one dialogue, made on demand from the index.
public struct DialogueSummary: Sendable, Equatable {
    public var id: String
    public var language: String
    public var slot: Int
    public var index: JSON
    public var status: RecordStatus
    public var dropReason: JSON
    public var turns: Int
    public var targetTurns: Int
}

/// What one state of a dialogue adds to the run's totals when it is finished (and the run counts it).
struct DialogueTally {
    var status: RecordStatus
    var language: String
    var dropReason: String
    var turns: Int
    var scoreSum = 0.0
    var scoreCount = 0
    var usage: TokenUsage
    var usageByAgent: [String: TokenUsage]

    init(_ r: JSONObject) {
        status = Record.status(r)
        language = Record.language(r)
        dropReason = r["drop_reason"]?.stringValue ?? "unknown"
        let t = Record.turns(r)
        turns = t.count
        for turn in t { if let s = turn["qa_judge"]?["score"]?.doubleValue { scoreSum += s; scoreCount += 1 } }
        if let s = r["conversation_judge"]?["score"]?.doubleValue { scoreSum += s; scoreCount += 1 }
        usage = TokenUsage(json: r["usage"])
        usageByAgent = TokenUsage.byAgent(r["usage"])
    }
}

/// The journal's index of its dialogues, in first-seen order: a contiguous array of fixed-size
/// entries (`IndexEntry`), the latest state of the held dialogues (the unfinished ones, a batch at
/// most), and the totals of the finished ones kept as they finish. A dialogue is found by its id
/// without a String per dialogue: an id `<prefix><slot, at least 4 digits>` (what `NewDialogues.make`
/// gives: `<run>-<language>-<slot>`) is its prefix's number and the slot, looked up in one array of
/// positions per prefix; any other id is kept as it is, in a side table.
///
/// Both journals (file and database) keep one and call `remember` with every state they read or append.
public final class DialogueIndex {
    private(set) var entries: [IndexEntry] = []
    /// Latest state of the dialogues `keep` selects.
    public private(set) var held: [String: JSONObject] = [:]
    /// States recorded (read at open plus appended).
    public internal(set) var lines = 0
    /// The totals of the finished (not held) dialogues whose slot `counts` selects.
    public private(set) var totals = RunTotals()

    private let keep: (JSONObject) -> Bool
    private let counts: (Int) -> Bool

    private var languages: [String] = []
    private var languageNumbers: [String: UInt32] = [:]
    private var dropReasons: [JSON] = [.null]
    private var dropReasonNumbers: [String: UInt32] = ["null": 0]
    private var prefixes: [String] = []
    private var prefixNumbers: [String: UInt32] = [:]
    /// Per prefix, the position of each slot's dialogue (-1: none).
    private var bySlot: [[Int32]] = []
    private var oddIDs: [Int32: String] = [:]
    private var oddPositions: [String: Int32] = [:]
    private var oddIndexes: [Int32: JSON] = [:]

    static let oddID = UInt32.max
    /// Slots past this are kept as odd ids (the per-prefix array would be mostly empty).
    static let maxDenseSlot = 1 << 26

    /// `keep`: which states stay in memory as records; `counts`: which slots the totals count (a
    /// shard's own).
    public init(keep: @escaping (JSONObject) -> Bool, counts: @escaping (Int) -> Bool = { _ in true }) {
        self.keep = keep
        self.counts = counts
    }

    public var count: Int { entries.count }

    /// Dialogues whose id is kept as a String (not `<prefix><slot>`).
    var oddIDCount: Int { oddIDs.count }

    /// Bytes the index holds per dialogue: the entry and its place in the lookup array (not counting
    /// the spare capacity of growing arrays, nor the held records).
    public static var bytesPerDialogue: Int { MemoryLayout<IndexEntry>.stride + MemoryLayout<Int32>.stride }

    // MARK: Recording states

    /// Records one state of a dialogue at `offset`/`length` in the journal. When it supersedes a
    /// state the totals counted (a finished dialogue coming back), `previous` reads that state back
    /// so its part of the totals is taken out.
    func remember(_ r: JSONObject, offset: Int, length: Int,
                  previous: (Int) throws(DlgError) -> JSONObject) throws(DlgError) {
        let id = Record.id(r)
        let slot = r["slot"]?.intValue ?? r["index"]?.intValue ?? 0
        let isHeld = keep(r)
        let existing = position(of: id)
        if let p = existing, isCounted(entries[p]) {
            totals.remove(DialogueTally(try previous(p)))
        }
        var e = IndexEntry(offset: offset, slot: slot, length: UInt32(clamping: length),
                           turns: Int32(clamping: Record.turns(r).count), targetTurns: Int32(clamping: Record.targetTurns(r)),
                           language: number(ofLanguage: Record.language(r)), idPrefix: Self.oddID,
                           dropReason: number(ofDropReason: r["drop_reason"] ?? .null),
                           status: Self.code(Record.status(r)), flags: isHeld ? IndexEntry.held : 0)
        let p: Int
        if let existing {
            p = existing
            // The id stays where it is: the slot of its first state names it.
            e.idPrefix = entries[p].idPrefix
            if e.idPrefix != Self.oddID { e.slot = entries[p].slot }
            oddIndexes[Int32(p)] = nil
        } else {
            p = entries.count
            e.idPrefix = place(id, slot: slot, at: p)
        }
        let index = r["index"] ?? 0
        if index != .int(e.slot) {
            e.flags |= IndexEntry.oddIndex
            oddIndexes[Int32(p)] = index
        }
        if existing == nil { entries.append(e) } else { entries[p] = e }
        held[id] = isHeld ? r : nil
        if isCounted(e) { totals.add(DialogueTally(r)) }
        lines += 1
    }

    /// Moves a dialogue's latest state (the journal was compacted).
    func move(_ p: Int, offset: Int) { entries[p].offset = offset }

    private func isCounted(_ e: IndexEntry) -> Bool { e.flags & IndexEntry.held == 0 && counts(e.slot) }

    // MARK: Reading

    public func position(of id: String) -> Int? {
        if let (prefix, slot) = Self.split(id), let n = prefixNumbers[prefix] {
            let positions = bySlot[Int(n)]
            if slot < positions.count, positions[slot] >= 0 { return Int(positions[slot]) }
        }
        return oddPositions[id].map(Int.init)
    }

    public func id(at p: Int) -> String {
        let e = entries[p]
        if e.idPrefix == Self.oddID { return oddIDs[Int32(p)] ?? "" }
        return prefixes[Int(e.idPrefix)] + Self.fourDigits(e.slot)
    }

    public func slot(at p: Int) -> Int { entries[p].slot }
    public func language(at p: Int) -> String { languages[Int(entries[p].language)] }
    public func status(at p: Int) -> RecordStatus { Self.status(entries[p].status) }
    public func isHeld(at p: Int) -> Bool { entries[p].flags & IndexEntry.held != 0 }
    public func dropReason(at p: Int) -> JSON { dropReasons[Int(entries[p].dropReason)] }
    public func conversationIndex(at p: Int) -> JSON {
        entries[p].flags & IndexEntry.oddIndex != 0 ? oddIndexes[Int32(p)] ?? 0 : .int(entries[p].slot)
    }

    public func summary(at p: Int) -> DialogueSummary {
        let e = entries[p]
        return DialogueSummary(id: id(at: p), language: language(at: p), slot: e.slot, index: conversationIndex(at: p),
                               status: status(at: p), dropReason: dropReason(at: p), turns: Int(e.turns),
                               targetTurns: Int(e.targetTurns))
    }

    public func summary(_ id: String) -> DialogueSummary? { position(of: id).map(summary(at:)) }

    /// Every dialogue's id in first-seen order (made on demand: for tests and small runs).
    public var order: [String] { (0..<count).map(id(at:)) }

    /// Positions in run order: by language as `languages` lists them (others after), then slot, then
    /// first seen.
    public func sorted(_ positions: [Int], languages order: [String]) -> [Int] {
        var rank = [Int](repeating: Int.max, count: languages.count)
        for (i, l) in order.enumerated() {
            if let n = languageNumbers[l], rank[Int(n)] == Int.max { rank[Int(n)] = i }
        }
        return positions.sorted {
            let (a, b) = (entries[$0], entries[$1])
            let (ra, rb) = (rank[Int(a.language)], rank[Int(b.language)])
            if ra != rb { return ra < rb }
            return a.slot != b.slot ? a.slot < b.slot : $0 < $1
        }
    }

    /// The run state file's entry of a dialogue (upstream's shape).
    public func stateEntry(at p: Int) -> JSON {
        let e = entries[p]
        return .obj([
            "conversation_index": conversationIndex(at: p), "conversation_id": .string(id(at: p)),
            "language": .string(language(at: p)), "target_n_turns": .int(Int(e.targetTurns)),
            "status": .string(status(at: p).rawValue), "drop_reason": dropReason(at: p), "n_turns": .int(Int(e.turns)),
        ])
    }

    // MARK: Tables

    private func number(ofLanguage l: String) -> UInt32 {
        if let n = languageNumbers[l] { return n }
        let n = UInt32(languages.count)
        languages.append(l)
        languageNumbers[l] = n
        return n
    }

    private func number(ofDropReason j: JSON) -> UInt32 {
        if j.isNull { return 0 }
        let key = j.serialized()
        if let n = dropReasonNumbers[key] { return n }
        let n = UInt32(dropReasons.count)
        dropReasons.append(j)
        dropReasonNumbers[key] = n
        return n
    }

    /// Files a new id at position `p`: its prefix's number, or `oddID` (kept in the side table).
    private func place(_ id: String, slot: Int, at p: Int) -> UInt32 {
        if let (prefix, s) = Self.split(id), s == slot, s < Self.maxDenseSlot {
            let n: UInt32
            if let known = prefixNumbers[prefix] { n = known } else {
                n = UInt32(prefixes.count)
                prefixes.append(prefix)
                prefixNumbers[prefix] = n
                bySlot.append([])
            }
            let i = Int(n)
            if bySlot[i].count <= s {
                bySlot[i].reserveCapacity(max(s + 1, bySlot[i].count * 2))
                bySlot[i].append(contentsOf: repeatElement(-1, count: s + 1 - bySlot[i].count))
            }
            if bySlot[i][s] < 0 {
                bySlot[i][s] = Int32(p)
                return n
            }
        }
        oddIDs[Int32(p)] = id
        oddPositions[id] = Int32(p)
        return Self.oddID
    }

    /// `<prefix><number>` when the id ends with the number written as `fourDigits` does and the
    /// prefix does not end with a digit; nil otherwise.
    static func split(_ id: String) -> (String, Int)? {
        let bytes = id.utf8
        var start = bytes.endIndex
        while start > bytes.startIndex {
            let before = bytes.index(before: start)
            guard bytes[before] >= 0x30 && bytes[before] <= 0x39 else { break }
            start = before
        }
        let digits = bytes.distance(from: start, to: bytes.endIndex)
        guard digits >= 4, digits <= 9, digits == 4 || bytes[start] != 0x30 else { return nil }
        var n = 0
        for b in bytes[start...] { n = n * 10 + Int(b - 0x30) }
        return (String(id[..<start]), n)
    }

    /// The slot as `NewDialogues.make` writes it in an id: at least 4 digits.
    static func fourDigits(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 4 ? s : String(repeating: "0", count: 4 - s.count) + s
    }

    static func code(_ s: RecordStatus) -> UInt8 {
        switch s { case .active: 0; case .completed: 1; case .dropped: 2 }
    }

    static func status(_ c: UInt8) -> RecordStatus {
        switch c { case 1: .completed; case 2: .dropped; default: .active }
    }
}
