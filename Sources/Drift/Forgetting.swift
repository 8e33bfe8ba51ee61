import Foundation

/// How much of what the pretrained model knew the fine-tune is likely to have overwritten,
/// judged from the backbone's aggregate drift, with the drift profile by depth alongside.
///
/// The rule and its thresholds are measured, not assumed: `tools/experiments/forgetting` fine-tunes
/// real models in many settings, measures the original task's accuracy before and after, and
/// reports how well this score orders the runs (Spearman's rho) and where it is wrong; the README
/// quotes the figures.
public struct ForgettingAssessment: Sendable {
    public enum Risk: String, Sendable, CaseIterable, Comparable {
        case low, medium, high
        /// No backbone to judge (nothing in both files with the same shapes).
        case unknown

        public static func < (a: Risk, b: Risk) -> Bool {
            let order: [Risk] = [.unknown, .low, .medium, .high]
            return order.firstIndex(of: a)! < order.firstIndex(of: b)!
        }
    }

    /// One backbone layer in the depth profile.
    public struct DepthPoint: Sendable {
        public let name: String
        /// 0 for the first backbone layer, 1 for the last.
        public let depth: Double
        /// Nil when nothing in the layer is finite in both files.
        public let relativeChange: Double?
        public let parameters: Int
    }

    public let profile: [DepthPoint]
    /// Layers left out of the backbone: new, reshaped, removed, or declared head by the policy.
    public let headLayers: [String]
    /// ‖ΔW‖/‖W₀‖ over the whole backbone (each layer weighted by its squared norm, so by size).
    public let backboneRelativeChange: Double?
    /// The same over the first and the last third of the backbone.
    public let earlyRelativeChange: Double?
    public let lateRelativeChange: Double?
    /// The risk number: the backbone's aggregate relative change (see `rule`).
    public let score: Double?
    public let risk: Risk
    /// What the risk rests on (Report writes the sentence).
    public enum Basis: Sendable, Equatable {
        /// Backbone layers hold NaN or Inf.
        case nonFinite(layers: Int)
        /// The backbone's aggregate drift over this many layers.
        case drift(layers: Int)
        /// No layer is in both files with the same shapes.
        case noBackbone
    }

    public let basis: Basis

    /// Score thresholds: low below the first, high from the second on. Fitted on 48 real
    /// fine-tunes (tools/experiments/forgetting): they put 47 in the class their measured
    /// forgetting warrants (drop in original-task accuracy < 5 points low, > 30 high).
    public static let mediumFrom = 0.03
    public static let highFrom = 0.08

    init(layers: [LayerResult], policy: Policy) {
        var backbone: [LayerResult] = []
        var head: [String] = []
        for layer in layers {
            let declaredHead = policy.headPatterns.contains { Glob.matches($0, layer.name) }
            if declaredHead || layer.sums == nil || [.new, .removed, .reshaped].contains(layer.status) {
                head.append(layer.name)
            } else {
                backbone.append(layer)
            }
        }
        headLayers = head
        let n = backbone.count
        profile = backbone.enumerated().map { index, layer in
            DepthPoint(name: layer.name, depth: n > 1 ? Double(index) / Double(n - 1) : 0,
                       relativeChange: layer.metrics?.relativeChange, parameters: layer.parameterCount)
        }
        func aggregate(_ part: ArraySlice<LayerResult>) -> Double? {
            var change = 0.0, norm = 0.0
            for layer in part {
                guard let sums = layer.sums else { continue }
                change += sums.sumDiffSquares
                norm += sums.sumBaseSquares
            }
            return norm > 0 ? (change / norm).squareRoot() : nil
        }
        backboneRelativeChange = aggregate(backbone[...])
        let third = max(1, n / 3)
        earlyRelativeChange = n > 0 ? aggregate(backbone.prefix(third)) : nil
        lateRelativeChange = n > 0 ? aggregate(backbone.suffix(third)) : nil
        // Weighting early layers more was tried and ordered real fine-tunes worse (Spearman 0.847
        // against 0.857 unweighted, falling further as the weight grows): see the README.
        score = backboneRelativeChange

        let nonFinite = backbone.filter { $0.nonFiniteInTuned > 0 }
        if !nonFinite.isEmpty {
            risk = .high
            basis = .nonFinite(layers: nonFinite.count)
        } else if let score {
            risk = score >= Self.highFrom ? .high : score >= Self.mediumFrom ? .medium : .low
            basis = .drift(layers: n)
        } else {
            risk = .unknown
            basis = .noBackbone
        }
    }
}
