import Foundation

/// Turns questions into unit vectors for semantic dedup (`SemanticDedup`) and topic diversity
/// (`TopicDiversity`). Two ways to ask for the same vectors, because the callers live on two kinds of
/// thread: the dedup store decides on a thread of its own, never on the cooperative pool, and may wait
/// there; an export's end is async code on the pool, where waiting would hold one of its few threads
/// while the request it waits for needs one to run (a deadlock when the pool is small).
public protocol QuestionEmbedder: AnyObject, Sendable {
    /// The model the vectors come from (vectors of different models are never compared).
    var model: String { get }
    /// Unit vectors for `texts`, in order, waiting on the calling thread: for threads off the pool.
    func vectors(_ texts: [String]) throws(DlgError) -> [[Float]]
    /// The same vectors, awaited: for async code (an async caller gets this one).
    func vectors(_ texts: [String]) async throws(DlgError) -> [[Float]]
}
