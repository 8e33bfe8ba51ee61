public import Checkpoint
import Foundation

/// A learning rate as a Keras optimizer config stores it: a constant, or a schedule evaluated
/// at a step exactly as Keras does (in float64 here; Keras computes in float32, so figures agree
/// to about 1e-7 relative).
public enum LearningRate: Sendable, Equatable {
    case constant(Double)
    case exponentialDecay(initial: Double, decaySteps: Double, decayRate: Double, staircase: Bool)
    case piecewiseConstant(boundaries: [Double], values: [Double])
    case polynomialDecay(initial: Double, decaySteps: Double, end: Double, power: Double, cycle: Bool)
    case inverseTimeDecay(initial: Double, decaySteps: Double, decayRate: Double, staircase: Bool)
    case cosineDecay(initial: Double, decaySteps: Double, alpha: Double, warmupTarget: Double?, warmupSteps: Double)
    case cosineDecayRestarts(initial: Double, firstDecaySteps: Double, tMul: Double, mMul: Double, alpha: Double)
    /// Keras 1/2's optimizer `decay` argument: lr / (1 + decay · iterations), per update.
    case timeBasedDecay(initial: Double, decay: Double)

    /// Reads a stored `learning_rate`: a number, or `{"class_name": …, "config": {…}}` (also the
    /// older form without `module`, and a `{"config": …}` wrapper that holds only the config).
    public init(json: JSONValue) throws {
        if let number = json.number {
            self = .constant(number)
            return
        }
        guard let className = json["class_name"]?.string, let config = json["config"] else {
            throw ScheduleError("learning rate is neither a number nor a schedule ({\"class_name\", \"config\"})")
        }
        func number(_ key: String, default value: Double? = nil) throws -> Double {
            if let number = config[key]?.number { return number }
            if let value { return value }
            throw ScheduleError("\(className) config has no numeric \(key)")
        }
        func numbers(_ key: String) throws -> [Double] {
            guard let items = config[key]?.array else { throw ScheduleError("\(className) config has no list \(key)") }
            return try items.map { item in
                guard let number = item.number else { throw ScheduleError("\(className) \(key) holds a non-number") }
                return number
            }
        }
        let staircase = config["staircase"]?.bool ?? false
        switch className {
        case "ExponentialDecay":
            self = .exponentialDecay(initial: try number("initial_learning_rate"), decaySteps: try number("decay_steps"),
                                     decayRate: try number("decay_rate"), staircase: staircase)
        case "PiecewiseConstantDecay":
            let boundaries = try numbers("boundaries"), values = try numbers("values")
            guard values.count == boundaries.count + 1 else {
                throw ScheduleError("PiecewiseConstantDecay needs one more value than boundaries")
            }
            self = .piecewiseConstant(boundaries: boundaries, values: values)
        case "PolynomialDecay":
            self = .polynomialDecay(initial: try number("initial_learning_rate"), decaySteps: try number("decay_steps"),
                                    end: try number("end_learning_rate", default: 0.0001), power: try number("power", default: 1),
                                    cycle: config["cycle"]?.bool ?? false)
        case "InverseTimeDecay":
            self = .inverseTimeDecay(initial: try number("initial_learning_rate"), decaySteps: try number("decay_steps"),
                                     decayRate: try number("decay_rate"), staircase: staircase)
        case "CosineDecay":
            self = .cosineDecay(initial: try number("initial_learning_rate"), decaySteps: try number("decay_steps"),
                                alpha: try number("alpha", default: 0), warmupTarget: config["warmup_target"]?.number,
                                warmupSteps: try number("warmup_steps", default: 0))
        case "CosineDecayRestarts":
            self = .cosineDecayRestarts(initial: try number("initial_learning_rate"),
                                        firstDecaySteps: try number("first_decay_steps"), tMul: try number("t_mul", default: 2),
                                        mMul: try number("m_mul", default: 1), alpha: try number("alpha", default: 0))
        default:
            throw ScheduleError("learning-rate schedule \(className) is not one WeightDrift evaluates")
        }
        if case .constant = self {} else if parameters.contains(where: { !$0.value.isFinite }) {
            throw ScheduleError("\(className) config has a non-finite parameter")
        }
        for (key, value) in parameters where key.hasSuffix("Steps") && key != "warmupSteps" && value <= 0 {
            throw ScheduleError("\(className) \(key) must be positive")
        }
    }

    /// The schedule's Keras class name, or "constant".
    public var kind: String {
        switch self {
        case .constant: "constant"
        case .exponentialDecay: "ExponentialDecay"
        case .piecewiseConstant: "PiecewiseConstantDecay"
        case .polynomialDecay: "PolynomialDecay"
        case .inverseTimeDecay: "InverseTimeDecay"
        case .cosineDecay: "CosineDecay"
        case .cosineDecayRestarts: "CosineDecayRestarts"
        case .timeBasedDecay: "TimeBasedDecay"
        }
    }

    /// The numeric parameters, for display.
    public var parameters: [(key: String, value: Double)] {
        switch self {
        case .constant(let value): [("learningRate", value)]
        case let .exponentialDecay(initial, steps, rate, staircase):
            [("initialLearningRate", initial), ("decaySteps", steps), ("decayRate", rate), ("staircase", staircase ? 1 : 0)]
        case let .piecewiseConstant(boundaries, values):
            boundaries.enumerated().map { ("boundary\($0.offset)", $0.element) } + values.enumerated().map { ("value\($0.offset)", $0.element) }
        case let .polynomialDecay(initial, steps, end, power, cycle):
            [("initialLearningRate", initial), ("decaySteps", steps), ("endLearningRate", end), ("power", power), ("cycle", cycle ? 1 : 0)]
        case let .inverseTimeDecay(initial, steps, rate, staircase):
            [("initialLearningRate", initial), ("decaySteps", steps), ("decayRate", rate), ("staircase", staircase ? 1 : 0)]
        case let .cosineDecay(initial, steps, alpha, target, warmup):
            [("initialLearningRate", initial), ("decaySteps", steps), ("alpha", alpha)]
                + (target.map { [("warmupTarget", $0), ("warmupSteps", warmup)] } ?? [])
        case let .cosineDecayRestarts(initial, first, tMul, mMul, alpha):
            [("initialLearningRate", initial), ("firstDecaySteps", first), ("tMul", tMul), ("mMul", mMul), ("alpha", alpha)]
        case let .timeBasedDecay(initial, decay):
            [("initialLearningRate", initial), ("decay", decay)]
        }
    }

    /// `initialLearningRate=0.001, decaySteps=1000, …, staircase=true`.
    public var parameterText: String {
        parameters.map { key, value in
            ["staircase", "cycle"].contains(key) ? "\(key)=\(value != 0)" : "\(key)=\(format(value))"
        }.joined(separator: ", ")
    }

    /// The learning rate at `step`, as Keras 3 / tf-keras compute it.
    public func value(at step: Double) -> Double {
        let step = max(0, step)
        switch self {
        case .constant(let value):
            return value
        case let .exponentialDecay(initial, steps, rate, staircase):
            var p = step / steps
            if staircase { p = p.rounded(.down) }
            return initial * pow(rate, p)
        case let .piecewiseConstant(boundaries, values):
            for (index, boundary) in boundaries.enumerated() where step <= boundary {
                return values[index]
            }
            return values[values.count - 1]
        case let .polynomialDecay(initial, steps, end, power, cycle):
            var decaySteps = steps
            var current = step
            if cycle {
                let multiplier = step == 0 ? 1 : (step / steps).rounded(.up)
                decaySteps = steps * multiplier
            } else {
                current = min(step, steps)
            }
            return (initial - end) * pow(1 - current / decaySteps, power) + end
        case let .inverseTimeDecay(initial, steps, rate, staircase):
            var p = step / steps
            if staircase { p = p.rounded(.down) }
            return initial / (1 + rate * p)
        case let .cosineDecay(initial, steps, alpha, warmupTarget, warmupSteps):
            func decay(_ s: Double, from lr: Double) -> Double {
                let cosine = 0.5 * (1 + cos(Double.pi * s / steps))
                return lr * ((1 - alpha) * cosine + alpha)
            }
            guard let target = warmupTarget else { return decay(min(step, steps), from: initial) }
            let s = min(step, steps + warmupSteps)
            if s < warmupSteps { return (target - initial) * (s / warmupSteps) + initial }
            return decay(s - warmupSteps, from: target)
        case let .cosineDecayRestarts(initial, first, tMul, mMul, alpha):
            var fraction = step / first
            let restart: Double
            if tMul == 1 {
                restart = fraction.rounded(.down)
                fraction -= restart
            } else {
                restart = (log(1 - fraction * (1 - tMul)) / log(tMul)).rounded(.down)
                let done = (1 - pow(tMul, restart)) / (1 - tMul)
                fraction = (fraction - done) / pow(tMul, restart)
            }
            let cosine = 0.5 * pow(mMul, restart) * (1 + cos(Double.pi * fraction))
            return initial * ((1 - alpha) * cosine + alpha)
        case let .timeBasedDecay(initial, decay):
            return initial / (1 + decay * step)
        }
    }
}

public struct ScheduleError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
