/// What went wrong in a stage tool's pass, and the exit status it earns: the rules every stage tool
/// ends by (dlg-gen, dlg-dedup, dlg-respond, dlg-judge), in one place. The first problem in the
/// order below decides: an error storm (75: the records left are retried on resume), an unavailable
/// LLM server (69), a store that could not decide (69 when unavailable, else 74), bad input lines (65).
public struct StageOutcome: Sendable {
    /// The error storm that stopped the stage (`ErrorStorm.tripped`).
    public var storm: String?
    /// Records left unchanged because the LLM server was unavailable, and its last answer.
    public var unavailable = 0
    public var unavailableDetail = ""
    /// How the unavailable records are named in the message.
    public var unavailableWhat = "record(s) left unchanged"
    /// The dedup store's failure and the records passed on undecided because of it.
    public var storeFailure: DlgError?
    public var undecided = 0
    /// Input lines that were not dialogue records (reported and skipped).
    public var badLines = 0

    public init(storm: String? = nil, unavailable: Int = 0, unavailableDetail: String = "", badLines: Int = 0) {
        self.storm = storm
        self.unavailable = unavailable
        self.unavailableDetail = unavailableDetail
        self.badLines = badLines
    }

    /// The outcome of a stage run with `client` whose health is `health`.
    public init(client: LLMClient?, health: StageHealth?, badLines: Int) {
        self.init(storm: client?.storm.tripped, unavailable: health?.unavailableCount ?? 0,
                  unavailableDetail: health?.lastDetail ?? "", badLines: badLines)
    }

    /// The exit status, and the line for stderr after `tool: ` (nil when there is nothing to say).
    public var ending: (status: Int32, line: String?) {
        if let storm { return (DlgError.Code.tempFail.rawValue, "error: \(storm)") }
        if unavailable > 0 {
            return (DlgError.Code.unavailable.rawValue,
                    "error: \(unavailable) \(unavailableWhat), the LLM server is unavailable: \(unavailableDetail)")
        }
        if let failure = storeFailure {
            let code: DlgError.Code = failure.code == .unavailable ? .unavailable : .io
            return (code.rawValue, "error: \(failure.message) (\(undecided) record(s) passed on undecided)")
        }
        if badLines > 0 { return (DlgError.Code.data.rawValue, "\(badLines) bad input line(s) skipped") }
        return (0, nil)
    }
}
