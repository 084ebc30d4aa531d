import Foundation

/// `dlg-run --dry-run`: what the configured run would take in tokens and cost, direct and in batch
/// mode, before anything is sent to the configured endpoints. A small sample of the run (the first
/// `dialogues` per language) runs through the real stages against a mock the caller started in its
/// own process (`mockURL`), in a temporary project (`DryRunSample`: the user's outputs, logs, index and
/// cache untouched); each agent's tokens are then scaled by `run.total_samples / dialogues` and priced
/// with `llm.price` (direct) and `llm.price.batch_discount` (batch). The mock's tokens are its own
/// count (prompt tokens about a quarter of the request's bytes, replies of a small model's length): an
/// estimate of the run's shape, not a provider's bill.
public final class DryRun {
    let settings: Settings
    let toolsDir: String
    /// Dialogues per language in the sample.
    public let dialogues: Int
    private let lock = NSLock()
    private var orchestrator: RunOrchestrator?
    private var interruptedBy: Int32?

    /// The sample's size when none is given: small enough to take seconds against the mock, large
    /// enough to average a few turn counts and duplicates.
    public static let defaultDialogues = 8

    public init(settings: Settings, toolsDir: String, dialoguesPerLanguage: Int? = nil) {
        self.settings = settings
        self.toolsDir = toolsDir
        dialogues = max(1, min(settings.run.totalSamples, dialoguesPerLanguage ?? Self.defaultDialogues))
    }

    /// Runs the sample against the mock at `mockURL` and returns the estimate; the temporary project
    /// is removed, whatever happens.
    public func estimate(mockURL: String) async throws(DlgError) -> DryRunEstimate {
        let sample = try DryRunSample.prepare(settings: settings, dialogues: dialogues, mockURL: mockURL)
        defer { sample.remove() }
        let sampleSettings = try Settings.load(path: sample.configPath, environment: sample.environment)
        _ = try await KnowledgeBase.open(settings: sampleSettings, client: nil)
        let orchestrator = RunOrchestrator(settings: sampleSettings, configPath: sample.configPath, toolsDir: toolsDir)
        orchestrator.stageEnvironment = sample.environment
        try await orchestrator.preflight(client: LLMClient(logsDir: sampleSettings.logsDir))
        let pending = lock.withLock { () -> Int32? in
            self.orchestrator = orchestrator
            return interruptedBy
        }
        if let pending { orchestrator.interrupt(signal: pending) }
        do {
            let totals = try await orchestrator.run(runID: DryRunSample.runID)
            return DryRunEstimate(settings: settings, sampleDialogues: dialogues, sample: totals)
        } catch where error.code == .interrupted {
            // The run's message would say how to resume a sample that is about to be removed.
            throw DlgError(.interrupted, "dry run interrupted; nothing was estimated, and its temporary folder is removed")
        }
    }

    /// Stops the sample in progress (SIGINT, SIGTERM): `estimate` then throws and removes its folder.
    public func interrupt(signal: Int32) {
        let running = lock.withLock { () -> RunOrchestrator? in
            if interruptedBy == nil { interruptedBy = signal }
            return orchestrator
        }
        running?.interrupt(signal: signal)
    }
}

/// A dry run's figures: the sample's, and each agent's tokens scaled to the configured run with their
/// costs.
public struct DryRunEstimate: Sendable {
    public let languages: [String]
    public let sampleDialogues: Int
    public let runDialogues: Int
    public let sample: RunTotals
    /// Each agent's tokens for the whole run (the sample's x `scale`), by agent name.
    public let usageByAgent: [String: TokenUsage]
    public let pricing: Pricing
    /// Whether the config has batch mode on (the run would pay the batch price).
    public let batchMode: Bool

    public var scale: Double { Double(runDialogues) / Double(sampleDialogues) }

    init(settings: Settings, sampleDialogues: Int, sample: RunTotals) {
        languages = settings.run.targetLanguages
        self.sampleDialogues = sampleDialogues
        runDialogues = settings.run.totalSamples
        self.sample = sample
        pricing = settings.pricing
        batchMode = settings.llmLayer.batch.enabled
        let factor = Double(settings.run.totalSamples) / Double(sampleDialogues)
        func scaled(_ n: Int) -> Int { Int((Double(n) * factor).rounded()) }
        usageByAgent = sample.usageByAgent.mapValues { u in
            var s = TokenUsage()
            s.promptTokens = scaled(u.promptTokens)
            s.completionTokens = scaled(u.completionTokens)
            s.requests = scaled(u.requests)
            return s
        }
    }

    /// The agents in the run's order (qa_generator, kb_responder, qa_judge), then any other.
    public var agents: [String] {
        let known = AgentName.allCases.map(\.rawValue)
        return known.filter { usageByAgent[$0] != nil } + usageByAgent.keys.filter { !known.contains($0) }.sorted()
    }

    /// Every agent's tokens for the whole run.
    public var tokens: TokenUsage { usageByAgent.values.reduce(TokenUsage(), +) }

    /// `{dry_run, languages, dialogues_per_language, sample, scale, batch_api, tokens, agents, cost}`:
    /// `cost` is `{currency, direct, batch, batch_discount}`, null without prices (as is each agent's;
    /// `note` then says prices are needed).
    public var json: JSON {
        var completed = JSONObject()
        for l in languages { completed[l] = .int(sample.completed[l] ?? 0) }
        let agentRows: [JSON] = agents.map { name in
            let u = usageByAgent[name]!
            var row: JSONObject = ["agent": .string(name)]
            for (k, v) in u.json.objectValue?.pairs ?? [] { row[k] = v }
            row["cost"] = pricing.isSet ? pricing.costJSON([name: u]) : .null
            return .object(row)
        }
        var out: JSONObject = [
            "dry_run": true, "languages": JSON(languages), "dialogues_per_language": .int(runDialogues),
            "sample": .obj(["dialogues_per_language": .int(sampleDialogues), "completed": .object(completed),
                            "dropped": .int(sample.dropped.values.reduce(0, +)), "turns": .int(sample.turns),
                            "tokens": sample.usage.json]),
            "scale": .double((scale * 1000).rounded() / 1000), "batch_api": .bool(batchMode),
            "tokens": tokens.json, "agents": .array(agentRows),
            "cost": pricing.isSet ? pricing.costJSON(usageByAgent) : .null,
        ]
        if !pricing.isSet { out["note"] = .string(Self.noPrices) }
        return .object(out)
    }

    /// What a dry run says when no price is set.
    public static let noPrices = "no prices: set llm.price.prompt_per_million and completion_per_million (or an agent's llm.agents.<agent>.price) to see the cost direct and in batch mode"

}
