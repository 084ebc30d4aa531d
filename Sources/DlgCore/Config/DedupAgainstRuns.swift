import Foundation

/// `coverage.dedup_against_runs` (ours): the earlier runs of the same store whose accepted questions
/// a new run's questions are checked against, exact and near, so a dataset built in several runs has
/// no repeats. `[]` (the default): the run alone; a list of run ids; or `all`: every other run the
/// store held when the run's dlg-dedup started.
public enum DedupAgainstRuns: Sendable, Equatable {
    case none
    case runs([String])
    case all

    public var isActive: Bool { self != .none }

    /// The run ids to check against, of those the store holds (`stored`), without the run itself.
    public func resolve(stored: [String], current: String) -> [String] {
        switch self {
        case .none: return []
        case .all: return stored.filter { $0 != current }
        case .runs(let ids): return ids.filter { $0 != current }
        }
    }
}

extension DedupAgainstRuns {
    /// `all` (a string, any case), or a list of run ids (a comma-separated string too), each one
    /// `SafeID` allows: exit 78 naming the key otherwise.
    init(reader r: ConfigReader) throws(DlgError) {
        let key = "coverage.dedup_against_runs"
        if case .string(let s)? = r.tree.value(at: key), s.trimmingCharacters(in: .whitespaces).lowercased() == "all" {
            self = .all
            return
        }
        let ids = try r.stringList(key)
        for id in ids {
            if let problem = SafeID.problem(id) { throw r.fail(key, .string(id), "run ids (\"run_id\" \(problem)) or all") }
        }
        self = ids.isEmpty ? .none : .runs(ids)
    }
}
