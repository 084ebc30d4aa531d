import Foundation

/// The run's checkpoint, wherever it lives: the latest state of every dialogue, in first-seen order,
/// with the unfinished ones (those `keep` selects) held in memory as records and the others as
/// summaries. `RunJournal` keeps it in a JSONL file; `PostgresJournal` in the database, one row per
/// dialogue, so a run resumes from any machine that reaches it.
public protocol DialogueJournal: AnyObject {
    var summaries: [String: DialogueSummary] { get }
    var order: [String] { get }
    /// Latest state of the kept dialogues.
    var held: [String: JSONObject] { get }
    /// States recorded (read at open plus appended); more than `order.count` once dialogues moved on.
    var lines: Int { get }
    /// Records one state of a dialogue.
    func append(_ r: JSONObject) throws(DlgError)
    /// Records a state whose JSONL line (with its newline) is already at hand.
    func append(_ r: JSONObject, line: [UInt8]) throws(DlgError)
    /// The latest state of a dialogue.
    func record(_ id: String) throws(DlgError) -> JSONObject
    /// Writes the latest states of `ids`, one JSONL line each, to `target` (temporary name, renamed).
    @discardableResult
    func writeLatest(_ ids: [String], to target: String) throws(DlgError) -> [(offset: Int, length: Int)]
    /// Drops superseded states, where the journal keeps any.
    func compact() throws(DlgError)
    /// Waits until every state appended so far is stored (the file journal writes at once).
    func flush() throws(DlgError)
}

extension DialogueJournal {
    /// Every dialogue's summary, in first-seen order.
    public var allSummaries: [DialogueSummary] { order.compactMap { summaries[$0] } }
}

/// Writes JSONL lines to `target` through a temporary name (fsynced, renamed) and says where each
/// landed: what both journals' `writeLatest` do once they have the lines.
struct PlacedLines {
    private let file: AtomicFile
    private(set) var placed: [(offset: Int, length: Int)] = []
    private var offset = 0

    init(_ target: String, expected: Int) throws(DlgError) {
        file = try AtomicFile(target)
        placed.reserveCapacity(expected)
    }

    /// One line, its newline included.
    mutating func write(_ bytes: [UInt8]) throws(DlgError) {
        try file.write(bytes)
        placed.append((offset, bytes.count))
        offset += bytes.count
    }

    func commit() throws(DlgError) -> [(offset: Int, length: Int)] {
        try file.commit()
        return placed
    }
}

extension RunJournal: DialogueJournal {
    public func flush() throws(DlgError) {}
}
