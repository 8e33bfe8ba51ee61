import ArgumentParser
import Checkpoint
import Drift
import Foundation
import Report

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the learning rate a checkpoint's optimizer (or a schedule config) gives at each step.",
        discussion: """
        Evaluates Keras's ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay, \
        CosineDecay (with warmup) and CosineDecayRestarts exactly as Keras does. Without --steps: step 0, \
        the saved step and evenly spaced steps, with a small chart.
        """
    )

    @Argument(help: "A checkpoint whose stored optimizer config has the learning rate.")
    var path: String?

    @Option(name: .long, help: "A schedule's Keras config as JSON ({\"class_name\": …, \"config\": {…}}) instead of a checkpoint.")
    var config: String?

    @Option(name: .long, help: "Comma-separated steps, e.g. 0,1000,2000.")
    var steps: String?

    @Option(name: .customLong("format"), help: "Output format: table or json (default: json for an --output ending in .json, else table).")
    var formatOption: OutputFormat?

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    var format: OutputFormat { formatOption ?? (Console.formatName(forOutput: output) == "json" ? .json : .table) }

    func validate() throws {
        if (path == nil) == (config == nil) { throw ValidationError("give a checkpoint path or --config, not both") }
        if let steps, parseSteps(steps) == nil {
            throw ValidationError("--steps takes whole numbers ≥ 0 separated by commas, got '\(steps)'")
        }
    }

    func parseSteps(_ text: String) -> [Int]? {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = items.compactMap { Int($0) }
        return values.count == items.count && !values.isEmpty && values.allSatisfy { $0 >= 0 } ? values : nil
    }

    func run() throws {
        try Console.checkOutput(output, inputs: path.map { [$0] } ?? [])  // --config is JSON text, not a file
        let rate: LearningRate
        let source: String
        var savedStep: Int64?
        if let config {
            guard let json = JSONValue.parse(config) else { throw CLIError(message: "--config: not valid JSON") }
            do {
                rate = try LearningRate(json: json["learning_rate"] ?? json)
            } catch let error as ScheduleError {
                throw CLIError(message: "--config: \(error.description)")
            }
            source = "--config"
        } else {
            let checkpoint = try Checkpoint.open(path!)
            guard let setup = TrainingSetup(checkpoint.optimizer) else {
                throw CLIError(message: "\(path!): no optimizer config is stored (the model was saved uncompiled or weights-only)")
            }
            guard let stored = setup.learningRate else {
                throw CLIError(message: "\(path!): \(setup.learningRateProblem ?? "the optimizer config records no learning rate")")
            }
            rate = stored
            savedStep = setup.iterations
            source = "\(path!) (\(setup.optimizer ?? "optimizer"), saved at step \(savedStep.map(String.init) ?? "?"))"
        }
        let chosen = steps.flatMap(parseSteps) ?? TrainingReport.defaultSteps(rate, savedStep: savedStep)
        let text = switch format {
        case .table: TrainingReport.scheduleTable(rate, steps: chosen, source: source, savedStep: savedStep, chart: steps == nil)
        case .json: JSONWriter.write(TrainingReport.scheduleJSON(rate, steps: chosen, source: source, savedStep: savedStep))
        }
        try Console.write(text, to: output)
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a Keras CSVLogger log: best epoch, overfitting, NaN losses.",
        discussion: "Exit 1 when a finding named by --fail-on is present, 2 on a malformed log (the line is named)."
    )

    enum Finding: String, CaseIterable {
        case overfitting, nan
    }

    @Argument(help: "The CSV file written by keras.callbacks.CSVLogger.")
    var path: String

    @Option(name: .long, help: "Exit 1 when these are found: overfitting, nan (comma-separated).")
    var failOn: String?

    @Option(name: .customLong("format"), help: "Output format: table or json (default: json for an --output ending in .json, else table).")
    var formatOption: OutputFormat?

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    var format: OutputFormat { formatOption ?? (Console.formatName(forOutput: output) == "json" ? .json : .table) }

    func validate() throws {
        for item in failOn?.split(separator: ",") ?? [] where Finding(rawValue: item.trimmingCharacters(in: .whitespaces)) == nil {
            throw ValidationError("--fail-on takes overfitting and/or nan, got '\(item)'")
        }
    }

    func run() throws {
        try Console.checkOutput(output, inputs: [path])
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError(message: "\(path): no such file") }
        let history: TrainingHistory
        do {
            history = try TrainingHistory(path: path)
        } catch let error as HistoryError {
            throw CLIError(message: error.description)
        }
        let analysis = HistoryAnalysis(history)
        let text = switch format {
        case .table: TrainingReport.historyTable(history, analysis)
        case .json: JSONWriter.write(TrainingReport.historyJSON(history, analysis))
        }
        try Console.write(text, to: output)
        let asked = Set((failOn ?? "").split(separator: ",").compactMap { Finding(rawValue: $0.trimmingCharacters(in: .whitespaces)) })
        if (asked.contains(.overfitting) && analysis.overfittingFrom != nil) || (asked.contains(.nan) && !analysis.nonFiniteEpochs.isEmpty) {
            throw ExitCode(1)
        }
    }
}
