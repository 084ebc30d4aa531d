import DlgCore
import Foundation

/// A dry run's estimate as a person reads it (`dlg-run --dry-run` on a terminal; `--json` and a pipe
/// get `DryRunEstimate.json`): the run's size, a row of tokens (and costs, when priced) per agent, the
/// total, and both costs.
public enum DryRunText {
    public static func render(_ e: DryRunEstimate) -> String {
        let priced = e.pricing.isSet
        var lines = ["estimate for \(e.languages.count) language(s) (\(e.languages.joined(separator: ", "))) x \(e.runDialogues) dialogue(s), "
            + "from a sample of \(e.sampleDialogues) per language run against the built-in mock (x\(String(format: "%.2f", e.scale))); "
            + "nothing was sent to the configured endpoints"]
        var header = [pad("agent", 14), pad("requests", 9, right: true), pad("prompt", 9, right: true), pad("completion", 11, right: true)]
        if priced { header += [pad("direct", 11, right: true), pad("batch", 11, right: true)] }
        lines.append("  " + header.joined(separator: " "))
        for name in e.agents { lines.append(row(name, e.usageByAgent[name]!, e)) }
        lines.append(row("total", e.tokens, e))
        if priced {
            let cost = { (x: Double) in Money.format(x, e.pricing.currency) }
            let mode = e.batchMode ? "the run is in batch mode (llm.batch_api.enabled)" : "the run is direct (llm.batch_api.enabled: false)"
            lines.append("  cost     \(cost(e.pricing.cost(e.usageByAgent))) direct, \(cost(e.pricing.batchCost(e.usageByAgent))) in batch mode "
                + "(llm.price.batch_discount \(e.pricing.batchDiscount)); \(mode)")
        } else {
            lines.append("  cost     " + DryRunEstimate.noPrices)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func row(_ name: String, _ u: TokenUsage, _ e: DryRunEstimate) -> String {
        var cells = [pad(name, 14), pad("\(u.requests)", 9, right: true), pad(Count.short(u.promptTokens), 9, right: true),
                     pad(Count.short(u.completionTokens), 11, right: true)]
        if e.pricing.isSet {
            let byAgent = name == "total" ? e.usageByAgent : [name: u]
            cells += [pad(Money.format(e.pricing.cost(byAgent), e.pricing.currency), 11, right: true),
                      pad(Money.format(e.pricing.batchCost(byAgent), e.pricing.currency), 11, right: true)]
        }
        return "  " + cells.joined(separator: " ")
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        guard text.count < width else { return text }
        let fill = String(repeating: " ", count: width - text.count)
        return right ? fill + text : text + fill
    }
}
