import Foundation

/// Token prices (ours; upstream has none): `llm.price.prompt_per_million` and
/// `completion_per_million`, and the same under `llm.agents.<agent>.price` for one agent (the judge on a
/// cheaper model, say). `llm.price.currency` only labels the figures (default USD). No price set: no cost
/// is shown anywhere.
public struct Pricing: Sendable, Equatable {
    public struct Rate: Sendable, Equatable {
        public var promptPerMillion: Double
        public var completionPerMillion: Double
        public init(promptPerMillion: Double, completionPerMillion: Double) {
            self.promptPerMillion = promptPerMillion
            self.completionPerMillion = completionPerMillion
        }
        func cost(_ u: TokenUsage) -> Double {
            (Double(u.promptTokens) * promptPerMillion + Double(u.completionTokens) * completionPerMillion) / 1e6
        }
    }

    public var global: Rate?
    public var perAgent: [String: Rate] = [:]
    public var currency = "USD"
    /// `llm.price.batch_discount` (default 0.5): what a request costs in a batch, as a share of its
    /// direct price (OpenAI's Batch API charges half).
    public var batchDiscount = 0.5

    public init(global: Rate? = nil, perAgent: [String: Rate] = [:], currency: String = "USD") {
        self.global = global
        self.perAgent = perAgent
        self.currency = currency
    }

    public var isSet: Bool { global != nil || !perAgent.isEmpty }

    /// What `byAgent` would cost with the batch discount (every request in a batch).
    public func batchCost(_ byAgent: [String: TokenUsage]) -> Double { cost(byAgent) * batchDiscount }

    /// `{currency, batch, direct, batch_discount}` for `byAgent`, amounts rounded to 6 decimals (the
    /// summary's `cost`, the dry run's).
    public func costJSON(_ byAgent: [String: TokenUsage]) -> JSON {
        func money(_ x: Double) -> JSON { .double((x * 1e6).rounded() / 1e6) }
        return .obj(["currency": .string(currency), "batch": money(batchCost(byAgent)),
                     "direct": money(cost(byAgent)), "batch_discount": .double(batchDiscount)])
    }

    /// What `byAgent` cost; tokens of an agent without a price (and no global one) count as free.
    public func cost(_ byAgent: [String: TokenUsage]) -> Double {
        byAgent.reduce(0) { sum, entry in sum + ((perAgent[entry.key] ?? global)?.cost(entry.value) ?? 0) }
    }

    static func read(_ r: ConfigReader) throws(DlgError) -> Pricing {
        func rate(_ base: String) throws(DlgError) -> Rate? {
            guard let v = r.tree.value(at: base), !v.isNull else { return nil }
            guard v.objectValue != nil else { throw r.fail(base, v, "a mapping with prompt_per_million and completion_per_million") }
            func price(_ key: String) throws(DlgError) -> Double {
                let path = "\(base).\(key)"
                guard let x = r.tree.value(at: path), !x.isNull else { return 0 }
                guard let d = x.doubleValue, d >= 0 else { throw r.fail(path, x, "a price per million tokens, 0 or more") }
                return d
            }
            return Rate(promptPerMillion: try price("prompt_per_million"), completionPerMillion: try price("completion_per_million"))
        }
        var pricing = Pricing(global: try rate("llm.price"))
        for agent in AgentName.allCases {
            if let a = try rate("llm.agents.\(agent.rawValue).price") { pricing.perAgent[agent.rawValue] = a }
        }
        if let c = r.tree.value(at: "llm.price.currency")?.stringValue, !c.isEmpty { pricing.currency = c }
        if let d = r.tree.value(at: "llm.price.batch_discount"), !d.isNull { pricing.batchDiscount = try r.double("llm.price.batch_discount", min: 0, max: 1) }
        return pricing
    }
}
