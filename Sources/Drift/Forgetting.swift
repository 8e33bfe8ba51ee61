import Checkpoint
import Foundation

/// How much of what the pretrained model knew the fine-tune is likely to have overwritten,
/// judged from how far the backbone layers moved, with the drift profile by depth alongside.
///
/// The rule and its thresholds are measured, not assumed: `tools/experiments/forgetting` (one CNN,
/// 48 runs) and `tools/experiments/transfer` (five other families, 85 runs) fine-tune real models,
/// measure the original task's accuracy before and after, and report how well candidate scores
/// order the runs and which levels they put them in; the README quotes the figures.
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
        /// Over the layer's trainable weights (running statistics left out); nil when nothing in
        /// them is finite in both files.
        public let relativeChange: Double?
        public let parameters: Int
    }

    /// Why a layer is left out of the backbone as the task head.
    public enum HeadReason: Sendable, Equatable {
        /// A `--head` glob or the policy's `head:` list names it.
        case declared(pattern: String)
        case new, removed, reshaped
        /// The last layer in depth order moved far more than everything before it and is nearly
        /// orthogonal to its base: a head re-initialised for the new task under the old name.
        case detected(cosine: Double, relativeChange: Double, backboneRelativeChange: Double)
    }

    public struct HeadLayer: Sendable, Equatable {
        public let name: String
        public let reason: HeadReason

        public init(name: String, reason: HeadReason) {
            self.name = name
            self.reason = reason
        }
    }

    /// Where the level cut points come from.
    public struct CutPoints: Sendable, Equatable {
        public enum Source: Sendable, Equatable {
            /// The built-in defaults: not fitted to the user's model family.
            case uncalibratedDefaults
            /// The policy's `forgetting:` cut points (from `weightdrift calibrate`).
            case policy
        }

        /// Medium from this score on, high from `high` on.
        public let medium: Double
        public let high: Double
        public let source: Source

        public init(medium: Double, high: Double, source: Source) {
            self.medium = medium
            self.high = high
            self.source = source
        }

        /// Set on the runs of tools/experiments/forgetting and tools/experiments/transfer (see the
        /// README): they order runs within a family, but their levels are not calibrated to yours.
        public static let defaults = CutPoints(medium: mediumFrom, high: highFrom, source: .uncalibratedDefaults)
    }

    public let profile: [DepthPoint]
    /// Layers left out of the backbone, and why.
    public let heads: [HeadLayer]
    public var headLayers: [String] { heads.map(\.name) }
    /// The head found without being declared, if any.
    public var detectedHead: HeadLayer? {
        heads.first { if case .detected = $0.reason { true } else { false } }
    }
    /// Running statistics (BatchNorm moving mean and variance) in the backbone, left out of every
    /// figure: they follow the new data's statistics rather than what the model learned, and would
    /// otherwise fill the score.
    public let runningStatistics: Int
    /// ‖ΔW‖/‖W₀‖ over the backbone's trainable weights (each weight by its squared norm, so by size).
    public let backboneRelativeChange: Double?
    /// The same over the first and the last third of the backbone, in depth order.
    public let earlyRelativeChange: Double?
    public let lateRelativeChange: Double?
    /// The risk number: the mean over backbone layers of ‖ΔWᵢ‖/‖W₀ᵢ‖, trainable weights only.
    public let score: Double?
    public let risk: Risk
    public let cutPoints: CutPoints
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

    /// The default cut points (see `CutPoints.defaults`).
    public static let mediumFrom = 0.015
    public static let highFrom = 0.05

    /// A head is detected when the last backbone layer's relative change is at least this many
    /// times the rest's, and its cosine with the base below `detectedHeadCosine`.
    public static let detectedHeadRatio = 5.0
    public static let detectedHeadCosine = 0.5

    /// BatchNorm's moving mean and variance (Keras 3 and tf-keras names).
    public static func isRunningStatistic(_ weight: String) -> Bool {
        weight == "moving_mean" || weight == "moving_variance"
    }

    /// A running statistic under either file's name (a rename rule may pair `running_mean` with it).
    static func isRunningStatistic(_ weight: WeightResult) -> Bool {
        [weight.name, weight.base?.name].contains { $0.map(isRunningStatistic) ?? false }
    }

    /// The sums of a layer's trainable weights: running statistics left out.
    static func trainableSums(_ layer: LayerResult) -> DriftSums? {
        var total: DriftSums?
        for weight in layer.weights where !isRunningStatistic(weight) {
            guard let sums = weight.sums else { continue }
            if total == nil { total = DriftSums() }
            total!.merge(sums)
        }
        return total
    }

    init(layers: [LayerResult], policy: Policy) {
        var candidates: [(layer: LayerResult, sums: DriftSums?)] = []
        var heads: [HeadLayer] = []
        for layer in layers {
            if let pattern = policy.headPatterns.first(where: { Glob.matches($0, layer.name) }) {
                heads.append(HeadLayer(name: layer.name, reason: .declared(pattern: pattern)))
            } else if [.new, .removed, .reshaped].contains(layer.status) || layer.sums == nil {
                let reason: HeadReason = layer.status == .new ? .new : layer.status == .removed ? .removed : .reshaped
                heads.append(HeadLayer(name: layer.name, reason: reason))
            } else {
                candidates.append((layer, Self.trainableSums(layer)))
            }
        }
        if let last = candidates.last, candidates.count >= 2, let detected = Self.detect(last.sums, rest: candidates.dropLast().map(\.sums)) {
            heads.append(HeadLayer(name: last.layer.name, reason: detected))
            candidates.removeLast()
        }
        let backbone = candidates
        self.heads = heads
        runningStatistics = backbone.reduce(0) { $0 + $1.layer.weights.filter(Self.isRunningStatistic).count }
        let n = backbone.count
        profile = backbone.enumerated().map { index, item in
            DepthPoint(name: item.layer.name, depth: n > 1 ? Double(index) / Double(n - 1) : 0,
                       relativeChange: item.sums?.metrics?.relativeChange,
                       parameters: item.layer.parameterCount)
        }
        func aggregate(_ part: ArraySlice<(layer: LayerResult, sums: DriftSums?)>) -> Double? {
            var change = 0.0, norm = 0.0
            for item in part {
                guard let sums = item.sums else { continue }
                change += sums.sumDiffSquares
                norm += sums.sumBaseSquares
            }
            return norm > 0 ? (change / norm).squareRoot() : nil
        }
        backboneRelativeChange = aggregate(backbone[...])
        let third = max(1, n / 3)
        earlyRelativeChange = n > 0 ? aggregate(backbone.prefix(third)) : nil
        lateRelativeChange = n > 0 ? aggregate(backbone.suffix(third)) : nil
        // The score: the mean of the backbone layers' relative changes, each layer counting once
        // whatever its size. On the transfer study it ordered runs best over five families
        // (Spearman 0.91 against 0.89 for the size-weighted aggregate) and was the candidate chosen
        // on every four-family subset; other candidates (RMS change per parameter, cosine, the
        // rewrite part without shrinkage, early/late thirds, spectral norm and stable rank of ΔW)
        // did worse: see the README.
        let perLayer = backbone.compactMap { item -> Double? in
            guard let sums = item.sums, sums.sumBaseSquares > 0 else { return nil }
            return (sums.sumDiffSquares / sums.sumBaseSquares).squareRoot()
        }
        score = perLayer.isEmpty ? nil : perLayer.reduce(0, +) / Double(perLayer.count)
        cutPoints = policy.forgettingCutPoints ?? .defaults

        let nonFinite = backbone.filter { $0.layer.nonFiniteInTuned > 0 }
        if !nonFinite.isEmpty {
            risk = .high
            basis = .nonFinite(layers: nonFinite.count)
        } else if let score {
            risk = score >= cutPoints.high ? .high : score >= cutPoints.medium ? .medium : .low
            basis = .drift(layers: n)
        } else {
            risk = .unknown
            basis = .noBackbone
        }
    }

    /// A re-initialised head: far more moved than the rest and nearly orthogonal to its base.
    static func detect(_ last: DriftSums?, rest: [DriftSums?]) -> HeadReason? {
        guard let last, last.finiteCount > 0, last.tunedNaN + last.tunedInf == 0,
              last.sumBaseSquares > 0, last.sumTunedSquares > 0 else { return nil }
        var change = 0.0, norm = 0.0
        for sums in rest.compactMap({ $0 }) {
            change += sums.sumDiffSquares
            norm += sums.sumBaseSquares
        }
        guard norm > 0 else { return nil }
        let restChange = (change / norm).squareRoot()
        let lastChange = (last.sumDiffSquares / last.sumBaseSquares).squareRoot()
        let cosine = last.sumDot / (last.sumBaseSquares * last.sumTunedSquares).squareRoot()
        guard restChange.isFinite, cosine < detectedHeadCosine, lastChange >= detectedHeadRatio * restChange else { return nil }
        return .detected(cosine: cosine, relativeChange: lastChange, backboneRelativeChange: restChange)
    }
}
