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

    enum Format: String, CaseIterable { case table, json, markdown, junit, github, gitlab, html }

    @Argument(help: "The pretrained (base) checkpoint.")
    var base: String

    @Argument(help: "The checkpoints of the series, in training order (for example one per epoch).")
    var checkpoints: [String]

    @OptionGroup var out: OutputOptions

    @OptionGroup var gate: GateOptions

    func validate() throws {
        if checkpoints.isEmpty { throw ValidationError("give at least one checkpoint after the base") }
    }

    func run() throws {
        let artefacts = try out.artefacts(known: Format.allCases.map(\.rawValue))
        for artefact in artefacts { try Console.checkOutput(artefact.path, inputs: [base] + checkpoints) }
        if let summary = out.stepSummary { try Console.checkOutput(summary, inputs: [base] + checkpoints) }
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
        func render(_ format: Format) -> String {
            switch format {
            case .table: trend.table()
            case .json: JSONWriter.write(trend.json())
            case .markdown: trend.markdown()
            case .junit: trend.junit()
            case .github: trend.github()
            case .gitlab: trend.gitlabCodeQuality()
            case .html: trend.html()
            }
        }
        var stdoutFormat: Format?
        for (name, path) in artefacts {
            let format = Format(rawValue: name)!
            if path == nil { stdoutFormat = format }
            try Console.write(render(format), to: path)
        }
        if out.gitHubActions, !artefacts.contains(where: { $0.format == "github" && $0.path == nil }) {
            let annotations = trend.github()
            let handle = stdoutFormat == nil || stdoutFormat == .table || stdoutFormat == .markdown
                ? FileHandle.standardOutput : Console.stream
            handle.write(Data(annotations.utf8))
        }
        if let summary = out.stepSummary { try Console.append(trend.markdown() + "\n", to: summary) }
        if stdoutFormat != .table { Console.stream.write(Data((Sanitize.terminal(trend.conclusion) + "\n").utf8)) }
        if trend.firstBreach != nil { throw ExitCode(1) }
    }
}
