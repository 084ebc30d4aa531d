import Foundation

/// What a stage does with one record.
public protocol RecordStage: Sendable {
    /// Whether the record needs this stage; records that do not are written back byte for byte.
    func needsWork(_ record: JSONObject) -> Bool
    /// The record after this stage. Failures become `status: dropped` records, never thrown.
    func process(_ record: JSONObject) async -> JSONObject
    /// What of each turn `needsWork` and `process` read (`StageRunner` parses only that and copies the
    /// rest of each turn through); every member unless the stage says less.
    var turnView: TurnView { get }
}

extension RecordStage {
    public var turnView: TurnView { .everything }
}

/// Records a stage had to leave unchanged because the LLM server could not be reached; the tool then
/// exits 69 and the records can be retried as they are.
public final class StageHealth: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var last = ""
    public init() {}
    public func unavailable(_ detail: String) { lock.withLock { count += 1; last = detail } }
    public var unavailableCount: Int { lock.withLock { count } }
    public var lastDetail: String { lock.withLock { last } }
}

/// Counts a stage reports at the end.
public struct StageSummary: Sendable {
    public var records = 0
    public var worked = 0
    public var badLines = 0
    public var dropped = 0
}

/// A stage with nothing to do: validates records and passes them through.
public struct PassThrough: RecordStage {
    public init() {}
    public func needsWork(_ record: JSONObject) -> Bool { false }
    public func process(_ record: JSONObject) async -> JSONObject { record }
}

/// Hears what a stage run does, as it happens: the core reports, the tool decides what a person sees
/// (error lines, a progress line). Called from the runner's task, one call at a time.
public protocol StageObserver: Sendable {
    /// A line that is not a dialogue record was skipped (`source:line: problem`).
    func skippedBadLine(source: String, line: Int, problem: String)
    /// A record went to the stage.
    func started()
    /// A record came back from the stage (`dropped`: it left the run).
    func finished(dropped: Bool)
}
