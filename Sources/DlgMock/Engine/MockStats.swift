// Request counters served by `GET /stats`.

/// Kinds of injected fault, as named in `/stats`.
public enum MockFault: String, Sendable, CaseIterable {
    case rateLimited = "429"
    case serverError = "500"
    case timeout
    case drop
    case malformed
    case truncated
    case missingFields = "missing_fields"
    case wrongTypes = "wrong_types"
    case empty
    case echo
    case wrongLanguage = "wrong_language"
    case serviceUnavailable = "503"
    case resetInBody = "reset_in_body"
    case shortBody = "short_body"
}

/// A snapshot of the server's counters (everything except `/stats` itself is counted).
public struct MockStats: Sendable, Equatable {
    /// All requests except those to `/stats`.
    public var requests = 0
    /// `POST /v1/chat/completions` requests, including rejected ones (sent directly, not in a batch).
    public var chatCompletions = 0
    /// Chat requests answered as lines of a batch (`/v1/batches`).
    public var batchChatCompletions = 0
    /// `POST /v1/files` uploads.
    public var filesUploaded = 0
    /// Bytes of the uploaded files.
    public var bytesUploaded = 0
    /// `POST /v1/batches` that created a batch.
    public var batchesCreated = 0
    /// Lines of created batches whose `custom_id` an earlier batch already held (a request submitted again).
    public var customIDsResubmitted = 0
    /// Batches cancelled by `POST /v1/batches/{id}/cancel`.
    public var batchesCancelled = 0
    /// `POST /v1/embeddings` requests.
    public var embeddings = 0
    /// `GET /v1/models` requests.
    public var models = 0
    /// Requests to unknown paths (404) or with the wrong method (405).
    public var notFound = 0
    /// Requests answered 400 because the body was malformed.
    public var badRequests = 0
    /// Chat requests answered 400 because their `response_format` is switched off.
    public var unsupportedResponseFormat = 0
    /// Chat replies that were a tool call.
    public var toolCalls = 0
    /// Chat requests per agent.
    public var agents: [MockAgent: Int] = [:]
    /// Chat requests by `response_format` type: `json_schema`, `json_object`, `none`.
    public var responseFormats: [String: Int] = [:]
    /// Injected faults per kind.
    public var faults: [MockFault: Int] = [:]
    /// The most chat requests in flight at once (received, not yet answered).
    public var inFlightPeak = 0
    /// Chat requests answered 429 because `maxInFlight` were already in flight.
    public var concurrencyRefused = 0
    /// qa_generator replies whose question was replaced by a reworded earlier one (`nearDuplicateRate`),
    /// counted as the variant is made, before any content fault drawn for the same reply.
    public var nearDuplicateVariants = 0
    /// Whether `/stats` carries `near_duplicate_variants`: only with a near-duplicate rate, so the
    /// document of a mock without one (and the mock's golden replies) is unchanged.
    var reportsNearDuplicates = false

    /// All counters zero.
    public init() {}

    /// The counters as the compact JSON document served by `/stats` (keys in a fixed order).
    public var json: String {
        var writer = JSONWriter()
        writer.value(jsonValue)
        return writer.text
    }

    var jsonValue: JSONValue {
        guard case .object(var members) = directJSON else { return directJSON }
        if reportsNearDuplicates { members.append(("near_duplicate_variants", .int(nearDuplicateVariants))) }
        // Only once the files or batches API was used, so the document of a direct run is unchanged.
        if filesUploaded > 0 || batchesCreated > 0 {
            members.append(("batches", .object([
                ("chat_completions", .int(batchChatCompletions)),
                ("files_uploaded", .int(filesUploaded)),
                ("bytes_uploaded", .int(bytesUploaded)),
                ("batches_created", .int(batchesCreated)),
                ("custom_ids_resubmitted", .int(customIDsResubmitted)),
                ("batches_cancelled", .int(batchesCancelled)),
            ])))
        }
        return .object(members)
    }

    private var directJSON: JSONValue {
        .object([
            ("requests", .int(requests)),
            ("chat_completions", .int(chatCompletions)),
            ("embeddings", .int(embeddings)),
            ("models", .int(models)),
            ("not_found", .int(notFound)),
            ("bad_requests", .int(badRequests)),
            ("unsupported_response_format", .int(unsupportedResponseFormat)),
            ("tool_calls", .int(toolCalls)),
            ("agents", .object(MockAgent.allCases.map { ($0.rawValue, .int(agents[$0, default: 0])) })),
            ("response_format", .object(["json_schema", "json_object", "none"].map { ($0, .int(responseFormats[$0, default: 0])) })),
            ("faults", .object(MockFault.allCases.map { ($0.rawValue, .int(faults[$0, default: 0])) })),
            ("in_flight_peak", .int(inFlightPeak)),
            ("concurrency_refused", .int(concurrencyRefused)),
        ])
    }
}

extension MockStats {
    /// One chat request: sent directly (a request of its own) or as a line of a batch.
    mutating func countChat(inBatch: Bool) {
        if inBatch {
            batchChatCompletions += 1
        } else {
            requests += 1
            chatCompletions += 1
        }
    }
}
