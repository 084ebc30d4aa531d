import Foundation

/// Turns questions into unit vectors for semantic dedup (`SemanticDedup`) and topic diversity
/// (`TopicDiversity`). Synchronous: the dedup store decides on a thread of its own, never on the
/// cooperative pool.
public protocol QuestionEmbedder: AnyObject, Sendable {
    /// The model the vectors come from (vectors of different models are never compared).
    var model: String { get }
    /// Unit vectors for `texts`, in order.
    func vectors(_ texts: [String]) throws(DlgError) -> [[Float]]
}
