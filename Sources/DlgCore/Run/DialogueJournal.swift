import Foundation

/// The run's checkpoint, wherever it lives: the latest state of every dialogue, in first-seen order,
/// indexed by `DialogueIndex` (a fixed-size entry per dialogue, the totals of the finished ones),
/// with the unfinished ones (those `keep` selects) held in memory as records. `RunJournal` keeps it
/// in a JSONL file; `PostgresJournal` in the database, one row per dialogue, so a run resumes from
/// any machine that reaches it. Dialogues are named by id or by their position in the index.
public protocol DialogueJournal: AnyObject {
    var index: DialogueIndex { get }
    /// Records one state of a dialogue.
    func append(_ r: JSONObject) throws(DlgError)
    /// Records a state whose JSONL line (with its newline) is already at hand.
    func append(_ r: JSONObject, line: [UInt8]) throws(DlgError)
    /// The latest state of a dialogue.
    func record(_ id: String) throws(DlgError) -> JSONObject
    /// The latest state of the dialogue at position `p` of the index, read back from where it is stored.
    func record(at p: Int) throws(DlgError) -> JSONObject
    /// Writes the latest states of the dialogues at `positions`, one JSONL line each, to `target`
    /// (temporary name, renamed).
    func writeLatest(_ positions: [Int], to target: String) throws(DlgError)
    /// Drops superseded states, where the journal keeps any.
    func compact() throws(DlgError)
    /// Waits until every state appended so far is stored (the file journal writes at once).
    func flush() throws(DlgError)
}

extension DialogueJournal {
    /// Latest state of the kept dialogues.
    public var held: [String: JSONObject] { index.held }
    /// States recorded (read at open plus appended); more than `index.count` once dialogues moved on.
    public var lines: Int { index.lines }
    /// Every dialogue's id, in first-seen order (made on demand).
    public var order: [String] { index.order }
}

/// Writes JSONL lines to `target` through a temporary name (fsynced, renamed): what both journals'
/// `writeLatest` and `compact` do once they have the lines.
struct PlacedLines {
    private let file: AtomicFile
    /// Bytes written so far.
    private(set) var size = 0

    init(_ target: String) throws(DlgError) {
        file = try AtomicFile(target)
    }

    /// One line, its newline included.
    mutating func write(_ bytes: [UInt8]) throws(DlgError) {
        try file.write(bytes)
        size += bytes.count
    }

    func commit() throws(DlgError) { try file.commit() }
}

extension RunJournal: DialogueJournal {
    public func flush() throws(DlgError) {}
}
