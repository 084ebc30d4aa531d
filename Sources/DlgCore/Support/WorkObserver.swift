import Foundation

/// Hears how a long job of known or unknown size goes (index building, embedding, an export): the core
/// reports, the tool decides what a person sees.
public protocol WorkObserver: AnyObject, Sendable {
    /// `done` units of `what` (e.g. "files", "chunks embedded") out of `total` when known.
    func advanced(_ done: Int, of total: Int?, _ what: String)
    /// The job ended.
    func ended()
}
