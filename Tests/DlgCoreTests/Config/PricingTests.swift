// Token prices: an agent's own price wins over the global one; no price, no cost.

@testable import DlgCore
import Foundation
import Testing

@Suite struct PricingTests {

    @Test func anAgentsOwnPriceWinsOverTheGlobalOne() {
        var u = TokenUsage()
        u.promptTokens = 1_000_000
        u.completionTokens = 500_000
        let pricing = Pricing(global: .init(promptPerMillion: 2, completionPerMillion: 8),
                              perAgent: ["qa_judge": .init(promptPerMillion: 0.5, completionPerMillion: 1)])
        // 2 + 4 for the generator, 0.5 + 0.5 for the judge.
        #expect(abs(pricing.cost(["qa_generator": u, "qa_judge": u]) - 7) < 1e-9)
        #expect(!Pricing().isSet && Pricing().cost(["qa_generator": u]) == 0)
    }
}
