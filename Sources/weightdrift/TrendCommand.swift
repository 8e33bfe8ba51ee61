import ArgumentParser
import Checkpoint
import Drift
import Foundation
import Report

struct TrendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trend",
        abstract: "Drift per layer across a series of checkpoints, and the first one that breaches the gate.",
        discussion: "Exit 1 when any checkpoint of the series fails the gate (the first breach is where to stop training)."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, html }

    @Argument(help: "The pretrained (base) checkpoint.")
    var base: String

    @Argument(help: "The checkpoints of the series, in training order (for example one per epoch).")
    var checkpoints: [String]

    @Option(name: .long, help: "Output format: table, json or html.")
    var format: Format = .table

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    @OptionGroup var gate: GateOptions

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one checkpoint after the base") }
    }

    func run() throws {
        let policy = try gate.makePolicy()
        let baseCheckpoint = try Checkpoint.open(base)
        var reports: [DriftReport] = []
        let progress = Progress(what: "comparing \(checkpoints.count) checkpoints")
        for (index, path) in checkpoints.enumerated() {
            let tuned = try Checkpoint.open(path)
            let total = checkpoints.count
            do {
                reports.append(try DriftEngine.compare(base: baseCheckpoint, tuned: tuned, policy: policy, mode: gate.match.mode,
                                                       progress: { done, all in progress.update(index * all + done, total * all) }))
            } catch let error as PolicyError {
                throw CLIError(message: error.description)
            }
        }
        progress.finish()
        let trend = Trend(base: base, reports: reports)
        let text = switch format {
        case .table: trend.table()
        case .json: JSONWriter.write(trend.json())
        case .html: trend.html()
        }
        try Console.write(text, to: output)
        if output != nil || format != .table { Console.stream.write(Data((Sanitize.terminal(trend.conclusion) + "\n").utf8)) }
        if trend.firstBreach != nil { throw ExitCode(1) }
    }
}
