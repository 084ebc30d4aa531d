import ArgumentParser
import DlgCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The wiring shared by every tool's `run()`: SIGPIPE ignored (a closed stdout ends the tool quietly),
/// `DlgError` printed as `tool: error: message` and mapped to its sysexits status.
public enum ToolMain {
    public static func run(_ tool: String, _ body: () async throws -> Int32) async throws {
        signal(SIGPIPE, SIG_IGN)
        // A stage started by dlg-run inherits its ignored SIGINT/SIGTERM (ignored dispositions survive
        // exec); back to the defaults, so Ctrl-C and dlg-run's terminate() still stop it.
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        let status: Int32
        do {
            status = try await body()
        } catch is FDWriter.OutputClosed {
            status = 0
        } catch let e as DlgError {
            StandardError.write("\(tool): error: \(e.message)")
            status = e.code.rawValue
        } catch let e as ExitCode {
            throw e
        } catch let e as ValidationError {
            throw e
        } catch {
            StandardError.write("\(tool): error: \(error)")
            status = DlgError.Code.software.rawValue
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs a stage over stdin → stdout; returns its exit status (`StageOutcome`) and its summary.
    public static func runStage(_ tool: String, stage: some RecordStage, concurrency: Int, options: CommonOptions,
                                client: LLMClient?, health: StageHealth? = nil) async throws -> (Int32, StageSummary) {
        let reporter = StageReporter(tool: tool) { [client] in
            let u = client?.totalUsage ?? TokenUsage()
            return u.promptTokens + u.completionTokens
        }
        // Once the server is found unavailable, the stage stops calling it (see StageRunner.Mode).
        var stop: (@Sendable () -> Bool)? = nil
        if let health { stop = { [client] in health.unavailableCount > 0 || client?.storm.tripped != nil } }
        let summary = try await StageRunner.run(stage, input: LineReader(), output: FDWriter(),
                                                concurrency: concurrency, strict: options.strict,
                                                mode: .init(ordered: !options.unordered, stop: stop), observer: reporter)
        reporter.end()
        client?.logSummary(tool: tool)
        return (end(tool, StageOutcome(client: client, health: health, badLines: summary.badLines)), summary)
    }

    /// Says on stderr what ended a stage's pass (`tool: error: ...`) and returns its exit status
    /// (`StageOutcome` holds the rules).
    public static func end(_ tool: String, _ outcome: StageOutcome) -> Int32 {
        let (status, line) = outcome.ending
        if let line { StandardError.write("\(tool): \(line)") }
        return status
    }
}
