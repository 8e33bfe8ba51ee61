public import Checkpoint

/// A layer's (or weight's) verdict.
public enum Status: String, Sendable, CaseIterable {
    case ok, warn, fail, frozen, new, removed, reshaped, ignored
}

public struct WeightResult: Sendable {
    /// The tuned weight's name, or the base's when only the base has it.
    public let name: String
    public let base: Weight?
    public let tuned: Weight?
    public let status: Status
    /// Present when both sides were compared.
    public let sums: DriftSums?
    /// Present for a weight in one file only (or reshaped): its tuned values' health.
    public let tunedStats: ValueStats?
    /// Why the status is what it is, when a rule for this weight decided it.
    public let reasons: [Finding]

    public var metrics: DriftMetrics? { sums?.metrics }
}

public struct LayerResult: Sendable {
    /// The tuned layer's name, or the base's for a removed layer.
    public let name: String
    public let baseName: String?
    public let tunedName: String?
    public let className: String?
    public let matchedBy: MatchRule?
    public let status: Status
    /// Whether this layer makes the gate fail.
    public let failsGate: Bool
    /// Why: a threshold crossed, NaN in the tuned file, …
    public let reasons: [Finding]
    /// Over all compared weights of the layer together.
    public let sums: DriftSums?
    public let tunedStats: ValueStats?
    public let weights: [WeightResult]
    /// Elements in the layer (tuned side, or base for a removed layer).
    public let parameterCount: Int
    /// Time spent streaming the layer's weights (summed over worker threads).
    public var seconds: Double = 0

    public var metrics: DriftMetrics? { sums?.metrics }
    public var nonFiniteInTuned: Int { (sums.map { $0.tunedNaN + $0.tunedInf } ?? 0) + (tunedStats?.nonFinite ?? 0) }
    public var nanInTuned: Int { (sums?.tunedNaN ?? 0) + (tunedStats?.nanCount ?? 0) }
    public var infInTuned: Int { (sums?.tunedInf ?? 0) + (tunedStats?.infCount ?? 0) }
    public var nonFiniteInBase: Int { sums.map { $0.baseNaN + $0.baseInf } ?? 0 }
}

/// What identifies an input in a report.
public struct InputSummary: Sendable {
    public let path: String
    public let format: CheckpointFormat
    public internal(set) var sha256: String?
    public let kerasVersion: String?
    public let layerCount: Int
    public let parameterCount: Int
    public let optimizer: OptimizerState?
    public let layerOrder: String

    public init(_ checkpoint: Checkpoint, sha256: String?) {
        path = checkpoint.path
        format = checkpoint.format
        self.sha256 = sha256
        kerasVersion = checkpoint.kerasVersion
        layerCount = checkpoint.layers.count
        parameterCount = checkpoint.totalParameters
        optimizer = checkpoint.optimizer
        layerOrder = checkpoint.layerOrder
    }
}

public struct Summary: Sendable {
    public let counts: [Status: Int]
    /// The layer that matters most: the worst status, then the largest relative change.
    public let worstLayer: String?
    /// The gate's decision and every reason for it.
    public let decision: GateDecision
    public let coverage: Coverage

    public var passed: Bool { decision.passed }
    public var failures: [GateReason] { decision.reasons }
}

/// The whole result of `compare`.
public struct DriftReport: Sendable {
    public private(set) var base: InputSummary
    public private(set) var tuned: InputSummary
    public let policy: Policy
    public let matchMode: MatchMode
    public let layers: [LayerResult]
    public let summary: Summary
    /// Things worth knowing that are not verdicts (layer order not stored, …).
    public let notes: [Note]
    /// The training setups the two checkpoints record.
    public let baseSetup: TrainingSetup?
    public let tunedSetup: TrainingSetup?
    /// Setup warnings (a fine-tune rate not below the base's, a from-scratch Adam rate).
    public let warnings: [SetupWarning]
    /// Where NaN/Inf weights are in the tuned file; nil when all finite.
    public let diagnosis: NonFiniteDiagnosis?
    /// Where NaN/Inf weights are in the base file; nil when all finite.
    public let baseDiagnosis: NonFiniteDiagnosis?
    /// How likely the fine-tune overwrote what the pretrained model knew.
    public let forgetting: ForgettingAssessment
    /// Wall time of the comparison (reading and reducing).
    public var seconds: Double = 0
}

extension DriftReport {
    /// The same report with the inputs' SHA-256 digests filled in.
    public func withHashes(base baseDigest: String?, tuned tunedDigest: String?) -> DriftReport {
        var copy = self
        copy.base.sha256 = baseDigest
        copy.tuned.sha256 = tunedDigest
        return copy
    }
}
