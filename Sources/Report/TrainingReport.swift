public import Checkpoint
public import Drift
import Foundation

/// The training setup, learning-rate schedules and training logs, as JSON and text.
public enum TrainingReport {
    public static func setupJSON(_ setup: TrainingSetup?) -> JSONValue {
        guard let setup else { return .null }
        var learningRate: JSONValue = .null
        if let rate = setup.learningRate {
            learningRate = .object([
                "kind": .string(rate.kind),
                "parameters": .object(Dictionary(rate.parameters.map { ($0.key, JSONValue.number($0.value)) },
                                                 uniquingKeysWith: { a, _ in a })),
                "initial": .number(rate.value(at: 0)),
                "atSavedStep": .optional(setup.learningRateAtSavedStep),
            ])
        }
        return .object([
            "optimizer": .optional(setup.optimizer),
            "lossScaled": .bool(setup.lossScaled),
            "hyperparameters": .object(setup.hyperparameters),
            "learningRate": learningRate,
            "learningRateProblem": .optional(setup.learningRateProblem),
            "iterations": setup.iterations.map { .number(Double($0)) } ?? .null,
        ])
    }

    // MARK: schedule

    /// The default steps: 0, the saved step, and evenly spaced steps over the schedule's span.
    public static func defaultSteps(_ rate: LearningRate, savedStep: Int64?) -> [Int] {
        var horizon = Double(savedStep ?? 0)
        for (key, value) in rate.parameters where key.hasSuffix("Steps") || key.hasPrefix("boundary") {
            if value.isFinite { horizon = max(horizon, value * 2) }
        }
        if horizon <= 0 { horizon = 1000 }
        horizon = min(horizon, 4e18)  // steps are Ints: a stored 1e19 or Int64.max must not trap
        var steps = Set((0...8).map { Int((horizon * Double($0) / 8).rounded()) })
        if let savedStep { steps.insert(Int(savedStep)) }
        return steps.sorted()
    }

    public static func scheduleJSON(_ rate: LearningRate, steps: [Int], source: String, savedStep: Int64?) -> JSONValue {
        .object([
            "schemaVersion": .int(1),
            "source": .string(source),
            "kind": .string(rate.kind),
            "parameters": .object(Dictionary(rate.parameters.map { ($0.key, JSONValue.number($0.value)) },
                                             uniquingKeysWith: { a, _ in a })),
            "savedStep": savedStep.map { .number(Double($0)) } ?? .null,
            "values": .array(steps.map { .object(["step": .int($0), "learningRate": .number(rate.value(at: Double($0)))]) }),
        ])
    }

    public static func scheduleTable(_ rate: LearningRate, steps: [Int], source: String, savedStep: Int64?,
                                     chart: Bool) -> String {
        let out = "\(Sanitize.terminal(source))\n\(Sanitize.terminal(rate.kind))(\(rate.parameterText))\n\n"
        var table = TextTable([("step", .right), ("learning rate", .right), ("", .left)])
        let values = steps.map { rate.value(at: Double($0)) }
        let top = values.filter(\.isFinite).max() ?? 0
        for (step, value) in zip(steps, values) {
            let mark = savedStep.map { Int($0) == step } == true ? "◀ saved step" : ""
            table.add([String(step), full(value), chart ? bar(value, top) + (mark.isEmpty ? "" : " " + mark) : mark])
        }
        return out + table.render()
    }

    /// Up to 10 significant digits, no trailing zeros: 0.000884736.
    public static func full(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : "inf" }
        return String(format: "%.10g", value)
    }

    static func bar(_ value: Double, _ top: Double) -> String {
        guard top > 0, value.isFinite, value > 0 else { return "" }
        return String(repeating: "█", count: max(1, Int((value / top * 30).rounded())))
    }

    // MARK: history

    public static func historyJSON(_ history: TrainingHistory, _ analysis: HistoryAnalysis) -> JSONValue {
        .object([
            "schemaVersion": .int(1),
            "path": .string(history.path),
            "epochs": .int(history.epochs.count),
            "columns": .array(history.columns.map { .string($0) }),
            "bestEpoch": analysis.bestEpoch.map { .int($0) } ?? .null,
            "bestValLoss": .optional(analysis.bestValidationLoss),
            "overfittingFromEpoch": analysis.overfittingFrom.map { .int($0) } ?? .null,
            "nonFiniteEpochs": .array(analysis.nonFiniteEpochs.map { .int($0) }),
            "findings": .array(analysis.findings.map { .string($0) }),
            "history": .array(history.epochs.indices.map { index in
                .object(Dictionary(uniqueKeysWithValues: history.columns.map { ($0, JSONValue.number(history.values[$0]![index])) }))
            }),
        ])
    }

    public static func historyTable(_ history: TrainingHistory, _ analysis: HistoryAnalysis) -> String {
        var out = "\(history.path): \(history.epochs.count) epochs\n\n"
        out += "loss      \(sparkline(history.loss))\n"
        if let validation = history.validationLoss {
            out += "val_loss  \(sparkline(validation))\n"
            if let best = analysis.bestEpoch, let index = history.epochs.firstIndex(of: best) {
                let column = history.epochs.count > 60 ? index * 60 / history.epochs.count : index
                out += "          \(String(repeating: " ", count: column))^ best epoch \(best)"
                    + " (val_loss \(format(analysis.bestValidationLoss ?? .nan)))\n"
            }
        }
        out += "\n"
        if analysis.findings.isEmpty {
            out += "no overfitting or divergence found\n"
        } else {
            for finding in analysis.findings { out += "- \(Sanitize.terminal(finding))\n" }
        }
        return out
    }

    /// One character per epoch (at most 60, averaged), ▁ to █ over the finite range; ✕ for NaN/Inf.
    static func sparkline(_ values: [Double]) -> String {
        let width = min(values.count, 60)
        guard width > 0 else { return "" }
        var buckets: [Double] = []
        for column in 0..<width {
            let from = column * values.count / width, to = max(from + 1, (column + 1) * values.count / width)
            let slice = values[from..<to]
            buckets.append(slice.contains { !$0.isFinite } ? .nan : slice.reduce(0, +) / Double(slice.count))
        }
        let finite = buckets.filter(\.isFinite)
        let low = finite.min() ?? 0, high = finite.max() ?? 0
        let levels = Array("▁▂▃▄▅▆▇█")
        return String(buckets.map { value -> Character in
            guard value.isFinite else { return "✕" }
            guard high > low else { return levels[3] }
            return levels[min(7, Int((value - low) / (high - low) * 7.999))]
        })
    }
}
