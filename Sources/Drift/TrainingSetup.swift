public import Checkpoint
import Foundation

/// The training setup a checkpoint records: optimizer, its hyper-parameters, the learning rate
/// (constant or schedule) and the saved step.
public struct TrainingSetup: Sendable {
    /// The optimizer class (`Adam`); for mixed precision the wrapped optimizer's.
    public let optimizer: String?
    /// Wrapped in a LossScaleOptimizer (mixed precision).
    public let lossScaled: Bool
    /// Numeric and boolean settings other than the learning rate (`beta_1`, `weight_decay`, …).
    public let hyperparameters: [String: JSONValue]
    public let learningRate: LearningRate?
    /// Why the learning rate could not be read, when the config has one that is not understood.
    public let learningRateProblem: String?
    /// The optimizer's saved step counter.
    public let iterations: Int64?

    public init?(_ state: OptimizerState?) {
        guard let state else { return nil }
        var config = state.config
        var className = config?["class_name"]?.string
        var lossScaled = false
        if className?.contains("LossScaleOptimizer") == true, let inner = config?["config"]?["inner_optimizer"] {
            lossScaled = true
            config = inner
            className = inner["class_name"]?.string
        }
        if let name = className, name.hasPrefix("Custom>") { className = String(name.dropFirst("Custom>".count)) }
        optimizer = className ?? state.className
        self.lossScaled = lossScaled
        iterations = state.iterations
        var hyper: [String: JSONValue] = [:]
        for (key, value) in config?["config"]?.object ?? [:] where key != "learning_rate" && key != "name" {
            switch value {
            case .number, .bool: hyper[key] = value
            default: continue
            }
        }
        hyperparameters = hyper
        if let stored = config?["config"]?["learning_rate"], stored != .null {
            do {
                learningRate = try LearningRate(json: stored)
                learningRateProblem = nil
            } catch let error as ScheduleError {
                learningRate = nil
                learningRateProblem = error.description
            } catch {
                learningRate = nil
                learningRateProblem = "\(error)"
            }
        } else {
            learningRate = nil
            learningRateProblem = nil
        }
    }

    /// The learning rate at the first step of the run.
    public var initialLearningRate: Double? { learningRate?.value(at: 0) }

    /// The learning rate at the saved step (for a schedule, evaluated there).
    public var learningRateAtSavedStep: Double? {
        guard let learningRate else { return nil }
        return learningRate.value(at: Double(iterations ?? 0))
    }

    /// Adam and its relatives, for which 1e-2 is a from-scratch, not a fine-tuning, rate.
    public var isAdamFamily: Bool {
        guard let optimizer = optimizer?.lowercased() else { return false }
        return optimizer.contains("adam") || optimizer == "lion" || optimizer == "adafactor"
    }

    /// One line: "Adam, learning rate ExponentialDecay(…) = 0.00096 at step 1000 (of 0.001 at step 0)".
    public var summary: String {
        var parts: [String] = []
        parts.append((lossScaled ? "LossScaleOptimizer(\(optimizer ?? "?"))" : optimizer) ?? "optimizer not recorded")
        if let learningRate {
            switch learningRate {
            case .constant(let value):
                parts.append("learning rate \(format(value))")
            default:
                let parameters = learningRate.parameterText
                var text = "learning rate \(learningRate.kind)(\(parameters))"
                if let iterations { text += " = \(format(learningRate.value(at: Double(iterations)))) at step \(iterations)" }
                parts.append(text)
            }
        } else if let learningRateProblem {
            parts.append("learning rate not evaluated: \(learningRateProblem)")
        }
        if let iterations { parts.append("saved at step \(iterations)") }
        return parts.joined(separator: ", ")
    }

    /// Warnings about a fine-tune's setup against its base run's.
    public static func warnings(base: TrainingSetup?, tuned: TrainingSetup?) -> [SetupWarning] {
        var warnings: [SetupWarning] = []
        if let tunedRate = tuned?.initialLearningRate, let baseRate = base?.initialLearningRate, Float(tunedRate) >= Float(baseRate) {
            warnings.append(.rateNotBelowBase(tuned: tunedRate, base: baseRate))
        }
        // Configs store float32-rounded rates (1e-2 reads back as 0.0099999998), so compare in float32.
        if let tuned, tuned.isAdamFamily, let rate = tuned.initialLearningRate, Float(rate) >= Float(1e-2) {
            warnings.append(.fromScratchRate(optimizer: tuned.optimizer ?? "Adam", rate: rate))
        }
        return warnings
    }
}

extension NonFiniteDiagnosis {
    /// `layers` in model order, with their NaN and Inf counts; nil when every value is finite.
    public static func find(_ layers: [(name: String, nan: Int, inf: Int)], side: Side, setup: TrainingSetup?) -> NonFiniteDiagnosis? {
        let affected = layers.filter { $0.nan + $0.inf > 0 }.map { Affected(name: $0.name, nan: $0.nan, inf: $0.inf) }
        guard !affected.isEmpty else { return nil }
        return NonFiniteDiagnosis(side: side, affected: affected, layerCount: layers.count,
                                  learningRate: setup?.initialLearningRate, optimizer: setup?.optimizer)
    }
}
