import Checkpoint

/// Which file of a comparison.
public enum Side: String, Sendable, Equatable {
    case base, tuned
}

/// Why a layer (or weight) has its status. Typed values: Report turns them into sentences.
public indirect enum Finding: Sendable, Equatable {
    /// A figure beyond its limit, at the level (warn or fail) whose limit it crossed.
    case threshold(metric: Metric, value: Double, limit: Double, level: Status)
    /// A layer a policy rule declares frozen changed.
    case frozenChanged(rule: String, changedFraction: Double)
    /// NaN or Inf values in one of the files.
    case nonFinite(side: Side, nan: Int, inf: Int)
    /// No element is finite in both files, so no drift figure is defined.
    case nothingFinite
    /// A new, removed or reshaped layer the policy does not allow.
    case notAllowed(Status)
    /// Reported, not gated, by this policy rule.
    case ignoredByRule(String)
    /// A finding about one weight of the layer (a policy rule names the weight).
    case weight(String, Finding)

    /// The level this finding pushes its layer to.
    public var level: Status {
        switch self {
        case .threshold(_, _, _, let level): level
        case .weight(_, let inner): inner.level
        case .ignoredByRule: .ignored
        default: .fail
        }
    }
}

/// How much of the base model the comparison actually judged.
public struct Coverage: Sendable, Equatable {
    /// Parameters of the base checkpoint (its model weights; optimizer state excluded).
    public let baseParameters: Int
    /// Base parameters in weights that were paired, compared value by value and gated (not
    /// ignored by a policy rule).
    public let comparedParameters: Int
    public let baseLayers: Int
    /// Base layers with at least one weight compared and gated.
    public let comparedLayers: Int

    /// The share of the base's parameters compared; nil when the base has none.
    public var fraction: Double? {
        baseParameters > 0 ? Double(comparedParameters) / Double(baseParameters) : nil
    }
}

/// One reason the gate failed. Every renderer shows exactly these.
public enum GateReason: Sendable, Equatable {
    /// A layer fails the gate (or warns under `failOnWarn`), with its findings.
    case layer(name: String, status: Status, findings: [Finding])
    /// Too little of the base was compared.
    case coverage(Coverage, minimum: Double)
    /// The forgetting risk reached the level the policy fails at.
    case forgettingRisk(ForgettingAssessment.Risk, failsFrom: ForgettingAssessment.Risk)
    /// Moved more than `maxRatio` times as far as the approved reference run: one layer, or the
    /// whole backbone when `layer` is nil (`tuned` and `approved` are the relative changes).
    case reference(layer: String?, ratio: Double, tuned: Double, approved: Double, maxRatio: Double)

    /// A short stable identifier, for machine-readable output.
    public var kind: String {
        switch self {
        case .layer: "layer"
        case .coverage: "coverage"
        case .forgettingRisk: "forgettingRisk"
        case .reference: "reference"
        }
    }
}

/// The gate's decision, made once: every renderer and the exit code follow it.
public struct GateDecision: Sendable, Equatable {
    public let reasons: [GateReason]
    public var passed: Bool { reasons.isEmpty }
}

/// Things worth knowing that are not verdicts. Typed; Report writes the sentences.
public enum Note: Sendable, Equatable {
    /// The file does not store model order; its layers are listed by path.
    case layerOrderNotStored(path: String)
    /// `--match order` on a file that does not store model order.
    case orderMatchOnPathOrder
    /// Rows follow this file's model order (the other file does not store one).
    case depthOrderFrom(path: String)
    /// Every compared weight is bit-identical in the two files.
    case identicalWeights
    /// Exact names disagreed with the model structure, so layers were paired by structure (class,
    /// shapes, model order): `structural` pairs, of which `renamed` have different names, and
    /// `namePairsRejected` exact-name pairs would have joined layers at different depths.
    case structuralAlignment(structural: Int, renamed: Int, namePairsRejected: Int)
    /// Keras's per-class counters differ by a constant between the files (Keras 2.0 counted
    /// from `_1`, tf.keras 2.2+ from no suffix): tuned counter = base counter + offset.
    case counterOffset(Int)
    /// `count` layer pairs were made through the rename rules (match `renamed`).
    case renamedPairs(Int)
    /// Rename rules gave `count` layers of one file names no layer of the other file has (the
    /// first: `from` → `to`); those were paired by the other rules, under their stored names.
    case renamedWithoutPartner(side: Side, count: Int, from: String, to: String)
}

/// A training-setup warning about the fine-tune against its base run.
public enum SetupWarning: Sendable, Equatable {
    /// The fine-tune started at a learning rate not below the base run's.
    case rateNotBelowBase(tuned: Double, base: Double)
    /// An Adam-family optimizer at a rate of 1e-2 or more: a from-scratch rate.
    case fromScratchRate(optimizer: String, rate: Double)
}

/// Where non-finite weights are in one file, and what the tuned run's setup says.
public struct NonFiniteDiagnosis: Sendable, Equatable {
    public struct Affected: Sendable, Equatable {
        public let name: String
        public let nan: Int
        public let inf: Int
    }

    public let side: Side
    /// Layers with NaN or Inf, in model order.
    public let affected: [Affected]
    public let layerCount: Int
    public let learningRate: Double?
    public let optimizer: String?

    public var nan: Int { affected.reduce(0) { $0 + $1.nan } }
    public var inf: Int { affected.reduce(0) { $0 + $1.inf } }
}
