import Foundation

/// Why a dialogue left the run early; counted in the run summary.
public enum DropReason: String, Sendable, Error {
    case dedupExhausted = "dedup_exhausted"
    case invalidOutput = "invalid_output"
    case emptyQuestion = "empty_question"
    case emptyAnswer = "empty_answer"
    case echoedQuestion = "echoed_question"
    case wrongLanguage = "wrong_language"
    case llmUnavailable = "llm_unavailable"
    case llmRejected = "llm_rejected"
}
