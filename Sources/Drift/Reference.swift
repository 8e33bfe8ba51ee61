import Foundation

/// A fine-tune judged against an approved fine-tune of the same base model: per layer and overall,
/// how many times further from the base it moved than the approved run did. Needs no labels: the
/// approved run is the measure of how far is acceptable.
public struct ReferenceComparison: Sendable, Equatable {
    public struct LayerRatio: Sendable, Equatable {
        public let name: String
        /// Relative change of the layer's trainable weights in the run being gated and in the
        /// approved run (running statistics left out, as in the forgetting score).
        public let tuned: Double
        public let approved: Double
        /// tuned / approved; +∞ when the approved run left the layer bit-identical and this one
        /// moved it, 1 when neither moved it.
        public let ratio: Double
    }

    /// The approved checkpoint.
    public let path: String
    public let maxRatio: Double
    /// Every layer compared in both runs, in model order.
    public let layers: [LayerRatio]
    /// The forgetting scores (backbone drift) of both runs and their ratio; nil when either is
    /// undefined (no backbone, or non-finite weights: those fail the gate on their own).
    public let tunedScore: Double?
    public let approvedScore: Double?
    public let overallRatio: Double?

    /// A layer that moved less than this (relative change) never fails by ratio: ten times a
    /// negligible move is still negligible.
    public static let minimumChange = 1e-3
    public static let defaultMaxRatio = 1.5

    static func ratio(_ tuned: Double, _ approved: Double) -> Double {
        if approved > 0 { return tuned / approved }
        return tuned > 0 ? .infinity : 1
    }

    init(tuned: DriftReport, approved: DriftReport, path: String, maxRatio: Double) {
        self.path = path
        self.maxRatio = maxRatio
        var approvedByBase: [String: LayerResult] = [:]
        for layer in approved.layers {
            if let name = layer.baseName { approvedByBase[name] = layer }
        }
        layers = tuned.layers.compactMap { layer in
            guard let baseName = layer.baseName, let other = approvedByBase[baseName],
                  let mine = ForgettingAssessment.trainableSums(layer), let theirs = ForgettingAssessment.trainableSums(other),
                  mine.finiteCount > 0, theirs.finiteCount > 0, mine.tunedNaN + mine.tunedInf == 0 else { return nil }
            guard let a = mine.metrics?.relativeChange, let b = theirs.metrics?.relativeChange, a.isFinite, b.isFinite else { return nil }
            return LayerRatio(name: layer.name, tuned: a, approved: b, ratio: Self.ratio(a, b))
        }
        let finite = tuned.forgetting.basis != .noBackbone && !isNonFinite(tuned.forgetting.basis)
            && !isNonFinite(approved.forgetting.basis)
        tunedScore = tuned.forgetting.score
        approvedScore = approved.forgetting.score
        if finite, let a = tunedScore, let b = approvedScore {
            overallRatio = Self.ratio(a, b)
        } else {
            overallRatio = nil
        }
    }

    /// The gate reasons: the overall ratio, then each layer, above `maxRatio`.
    public var reasons: [GateReason] {
        var out: [GateReason] = []
        if let overall = overallRatio, let a = tunedScore, let b = approvedScore, overall > maxRatio, a >= Self.minimumChange {
            out.append(.reference(layer: nil, ratio: overall, tuned: a, approved: b, maxRatio: maxRatio))
        }
        for layer in layers where layer.ratio > maxRatio && layer.tuned >= Self.minimumChange {
            out.append(.reference(layer: layer.name, ratio: layer.ratio, tuned: layer.tuned, approved: layer.approved, maxRatio: maxRatio))
        }
        return out
    }
}

private func isNonFinite(_ basis: ForgettingAssessment.Basis) -> Bool {
    if case .nonFinite = basis { return true }
    return false
}

extension DriftReport {
    /// This report gated against an approved fine-tune's report (`approved` compares the same base
    /// with the approved checkpoint): the reference figures are added and every ratio above
    /// `maxRatio` becomes a gate reason.
    public func judged(against approved: DriftReport, path: String, maxRatio: Double = ReferenceComparison.defaultMaxRatio) -> DriftReport {
        var copy = self
        let reference = ReferenceComparison(tuned: self, approved: approved, path: path, maxRatio: maxRatio)
        copy.reference = reference
        copy.summary = Summary(counts: summary.counts, worstLayer: summary.worstLayer,
                               decision: GateDecision(reasons: summary.decision.reasons + reference.reasons),
                               coverage: summary.coverage)
        return copy
    }
}
