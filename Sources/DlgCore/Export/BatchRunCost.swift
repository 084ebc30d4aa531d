import Foundation

/// What a run made in batch mode cost, as the run wrote it for the report and the dataset card: the
/// `batch: true` lines of `logs/runs.jsonl` with their `cost` (`RunTimings`; the summary's
/// `{currency, batch, direct, batch_discount}`). Each line holds the whole run's cost so far, as its
/// journal counts it, so the last line of the run (of each shard, for a sharded run) says it all; a
/// direct run, or one without prices, has none.
public struct BatchRunCost: Sendable, Equatable {
    public var currency: String
    public var batch: Double
    public var direct: Double
    public var batchDiscount: Double

    /// The cost of run `runID` in batch mode; nil for a direct run or one without prices.
    public static func read(layout: RunLayout, runID: String) -> BatchRunCost? {
        let path = layout.log(RunLayout.runsFile)
        guard let text = try? Files.readText(path) else { return nil }
        var lastByShard: [String: JSON] = [:]
        for line in text.split(separator: "\n") {
            guard let entry = try? JSONCodec.parse(Array(line.utf8)), entry["run_id"]?.stringValue == runID else { continue }
            // A later line of the same run or shard replaces the earlier one (a resumed run counts it all).
            lastByShard[entry["shard"]?.stringValue ?? ""] = entry
        }
        let costs = lastByShard.values.filter { $0["batch"]?.boolValue == true }.compactMap { $0["cost"] }
        guard let first = costs.first else { return nil }
        return BatchRunCost(currency: first["currency"]?.stringValue ?? "USD",
                            batch: costs.reduce(0) { $0 + ($1["batch"]?.doubleValue ?? 0) },
                            direct: costs.reduce(0) { $0 + ($1["direct"]?.doubleValue ?? 0) },
                            batchDiscount: first["batch_discount"]?.doubleValue ?? 0.5)
    }

    /// The cost of the run whose dataset the output folder holds (`run_state/last_run_id.txt`).
    public static func lastRun(settings: Settings) -> BatchRunCost? {
        let layout = settings.layout
        guard let id = try? Files.readText(layout.lastRunIDPath).trimmingCharacters(in: .whitespacesAndNewlines), !id.isEmpty else { return nil }
        return read(layout: layout, runID: id)
    }

    /// An amount as the tools print it: `$0.0123` in USD, `0.0123 EUR` otherwise.
    public static func money(_ amount: Double, _ currency: String) -> String {
        let digits = amount < 10 ? 4 : 2
        return currency == "USD" ? String(format: "$%.\(digits)f", amount) : String(format: "%.\(digits)f \(currency)", amount)
    }

    /// The report's tile (title, value, line under it), drawn by the page's script with the others.
    var reportTile: JSON {
        .array([.string("Cost (batch mode)"), .string(Self.money(batch, currency)),
                .string("direct it would have been \(Self.money(direct, currency)) (batch discount \(batchDiscount))")])
    }

    /// The dataset card's section.
    var cardSection: String {
        "\n## Cost\n\nGenerated in batch mode (the provider's batch API): \(Self.money(batch, currency)); the same requests "
            + "sent one by one would have cost \(Self.money(direct, currency)) (batch discount \(batchDiscount)).\n"
    }
}
