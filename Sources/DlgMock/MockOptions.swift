// Configuration of the mock server: what it answers, how slowly, and how often it misbehaves.

/// How the added latency of a chat or embeddings request is drawn.
public enum LatencyDistribution: String, Sendable, CaseIterable {
    /// Always exactly `latencyMs`.
    case fixed
    /// Uniform in `latencyMs ± latencyJitterMs` (never below zero).
    case uniform
    /// Exponential with mean `latencyMs`.
    case exponential
}

/// Per-request fault rates, each in 0...1.
///
/// Transport faults (`rateLimited` through `malformed`, and `serviceUnavailable`, `resetInBody`,
/// `shortBody`) are mutually exclusive and drawn
/// from one seeded random number per request, so their sum must not exceed 1. Content
/// faults (`truncated` through `wrongLanguage`) are drawn independently and only alter the
/// content of an otherwise successful chat reply. All faults are drawn from a seeded
/// generator in request order; reply content never depends on order.
public struct MockFaults: Sendable, Equatable {
    /// HTTP 429 with a `Retry-After` header. Default 0.
    public var rateLimited: Double = 0
    /// HTTP 500 with an OpenAI-style error body. Default 0.
    public var serverError: Double = 0
    /// Never answer; hold the connection open until the client gives up. Default 0.
    public var timeout: Double = 0
    /// Close the connection without answering. Default 0.
    public var drop: Double = 0
    /// HTTP 200 whose message content is not JSON (chatty prefix, cut-off object). Default 0.
    public var malformed: Double = 0
    /// HTTP 503 with an OpenAI-style error body (an overloaded server). Default 0.
    public var serviceUnavailable: Double = 0
    /// Send the reply's headers and half its body, then reset the connection (RST). Default 0.
    public var resetInBody: Double = 0
    /// Send the reply's headers (with its full `Content-Length`) and half its body, then close. Default 0.
    public var shortBody: Double = 0
    /// Valid reply JSON cut in the middle. Default 0.
    public var truncated: Double = 0
    /// The main field (`user_message`, `assistant_message`, `score`) is missing. Default 0.
    public var missingFields: Double = 0
    /// Fields of the wrong JSON type, e.g. `"score":"high"`, `"user_message":42`. Default 0.
    public var wrongTypes: Double = 0
    /// `user_message` / `assistant_message` is empty; judges reply an empty content. Default 0.
    public var empty: Double = 0
    /// The kb_responder's `assistant_message` repeats the user's question verbatim. Default 0.
    public var echo: Double = 0
    /// The answer text is a fixed German sentence. Default 0.
    public var wrongLanguage: Double = 0

    /// No faults.
    public init() {}

    /// The sum of the mutually exclusive transport fault rates.
    public var transportTotal: Double {
        rateLimited + serverError + timeout + drop + malformed + serviceUnavailable + resetInBody + shortBody
    }

    var all: [(name: String, rate: Double)] {
        [("fault-429", rateLimited), ("fault-500", serverError), ("fault-timeout", timeout),
         ("fault-drop", drop), ("fault-malformed", malformed), ("fault-truncated", truncated),
         ("fault-missing-fields", missingFields), ("fault-wrong-types", wrongTypes),
         ("fault-empty", empty), ("fault-echo", echo), ("fault-wrong-language", wrongLanguage),
         ("fault-503", serviceUnavailable), ("fault-reset-body", resetInBody), ("fault-short-body", shortBody)]
    }
}

/// Everything that configures a `MockServer`.
public struct MockOptions: Sendable, Equatable {
    /// Address to listen on. Default `127.0.0.1`.
    public var host = "127.0.0.1"
    /// TCP port; 0 picks a free port. Default 0.
    public var port = 0
    /// Seed of every content hash and of the fault generator. Default 1.
    public var seed: UInt64 = 1
    /// Model id listed by `/v1/models` (replies echo the requested model). Default `mock-model`.
    public var model = "mock-model"
    /// Latency added to each chat or embeddings request, in milliseconds. Default 0.
    public var latencyMs: Double = 0
    /// Half-width of the uniform latency distribution, in milliseconds. Default 0.
    public var latencyJitterMs: Double = 0
    /// How latency is drawn. Default `.fixed`.
    public var latencyDistribution: LatencyDistribution = .fixed
    /// Fraction (0...1, hash-derived from the request) of qa_generator replies that use a
    /// question from a fixed pool of three generic questions. Default 0.
    public var duplicateRate: Double = 0
    /// Fraction (0...1, hash-derived from the request) of qa_generator replies that, once a question was
    /// given in the same language, repeat one given before reworded: a word or two added, two clauses
    /// swapped, the punctuation changed, the case changed (Jaccard of the word sets at least 0.8 for a
    /// question of 8 distinct words or more). Which earlier question depends on the order requests came
    /// in. Default 0.
    public var nearDuplicateRate: Double = 0
    /// Whether the kb_responder first asks for a `vector_db_search` tool call. Default true.
    public var toolCalls = true
    /// kb_responder replies grow to about this many bytes (more evidence items), as a long answer with
    /// its evidence and reasoning can be; 0 keeps the usual short replies.
    public var replyBytes = 0
    /// Whether `response_format` type `json_schema` is accepted (else HTTP 400). Default true.
    public var jsonSchemaSupport = true
    /// Whether `response_format` type `json_object` is accepted (else HTTP 400). Default true.
    public var jsonObjectSupport = true
    /// Whether the `seed` parameter is accepted (else HTTP 400, as from a provider that rejects fields it
    /// does not know). Default true.
    public var seedSupport = true
    /// Whether reply `content` is sent as a list of text parts (`[{"type":"text","text":...}, ...]`, the
    /// text split in two) instead of a string, as some gateways send it. Default false.
    public var contentParts = false
    /// Whether tool-call `arguments` are sent as a JSON object instead of a JSON string. Default false.
    public var objectArguments = false
    /// `Retry-After` seconds sent with injected 429 replies. Default 1.
    public var retryAfterSeconds = 1
    /// Number of event loop threads. Default 1.
    public var threads = 1
    /// When set, `/v1/*` answers 401 unless the request has `Authorization: Bearer <apiKey>` (as
    /// `vllm serve --api-key`); `/health` and `/stats` stay open. Default nil.
    public var apiKey: String?
    /// Chat requests in flight above which the mock answers 429 (without `Retry-After`), as a server with
    /// a hard concurrency cap; 0 for no cap. Default 0.
    public var maxInFlight = 0
    /// Whether the arrival time of every chat request is kept for `GET /stats/requests`. Default false.
    public var requestLog = false
    /// Rate (0...1) of error replies (HTTP 4xx and 5xx) whose message repeats the API key of the request's
    /// `Authorization: Bearer` header, as some providers echo the key they refused; spread evenly in
    /// request order. Default 0.
    public var echoKeyRate: Double = 0
    /// When above 0, every chat completion is answered with a 200 of this many bytes (one JSON object
    /// padded out), streamed from one shared piece so the mock itself stays small: a server whose reply
    /// has no end. Default 0.
    public var hugeReplyBytes = 0
    /// Milliseconds a batch stays `in_progress` after it is created; its lines are answered once they
    /// pass. Default 0.
    public var batchDelayMs: Double = 0
    /// Rate (0...1) of batch lines answered with a 500 in the error file (drawn from the line's
    /// `custom_id` and how often it was submitted: a retry can succeed). Default 0.
    public var batchErrorRate: Double = 0
    /// Rate (0...1) of batch lines left unanswered as expired (`batch_expired` in the error file; the
    /// batch ends `expired`), drawn as `batchErrorRate` is. Default 0.
    public var batchExpireRate: Double = 0
    /// The first this many batches created fail as a whole (status `failed`). Default 0.
    public var batchFailures = 0
    /// Injected fault rates. Default none.
    public var faults = MockFaults()

    /// The defaults listed on each property.
    public init() {}

    /// Problems with these options, each naming the property; empty when valid.
    public func problems() -> [String] {
        var problems: [String] = []
        if !(0...65535).contains(port) { problems.append("port \(port) is not in 0...65535") }
        if maxInFlight < 0 { problems.append("maxInFlight must not be negative, got \(maxInFlight)") }
        if threads < 1 { problems.append("threads must be at least 1, got \(threads)") }
        if replyBytes < 0 || replyBytes > 10_000_000 { problems.append("replyBytes must be in 0...10000000, got \(replyBytes)") }
        if !(latencyMs >= 0) { problems.append("latencyMs must not be negative") }
        if !(latencyJitterMs >= 0) { problems.append("latencyJitterMs must not be negative") }
        if retryAfterSeconds < 0 { problems.append("retryAfterSeconds must not be negative") }
        if !(0...1).contains(duplicateRate) { problems.append("duplicateRate \(duplicateRate) is not in 0...1") }
        if !(0...1).contains(nearDuplicateRate) { problems.append("nearDuplicateRate \(nearDuplicateRate) is not in 0...1") }
        if !(0...1).contains(echoKeyRate) { problems.append("echoKeyRate \(echoKeyRate) is not in 0...1") }
        if !(0...1).contains(batchErrorRate) { problems.append("batchErrorRate \(batchErrorRate) is not in 0...1") }
        if !(0...1).contains(batchExpireRate) { problems.append("batchExpireRate \(batchExpireRate) is not in 0...1") }
        if !(batchDelayMs >= 0) || batchFailures < 0 { problems.append("batchDelayMs and batchFailures must not be negative") }
        if hugeReplyBytes < 0 { problems.append("hugeReplyBytes must not be negative, got \(hugeReplyBytes)") }
        for (name, rate) in faults.all where !(0...1).contains(rate) {
            problems.append("\(name) rate \(rate) is not in 0...1")
        }
        if faults.transportTotal > 1 + 1e-9 {
            problems.append("the 429, 500, 503, timeout, drop, reset-body, short-body and malformed fault rates add up to \(faults.transportTotal); the sum must not exceed 1")
        }
        return problems
    }
}
