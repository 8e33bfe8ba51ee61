import Checkpoint
import Drift
import Foundation
import SampleFixtures
import Testing

/// The forgetting risk on the sample fine-tunes (samples/k3), whose original-task accuracy the
/// generator measured after training. (The 48 digits-CNN runs of tools/experiments/forgetting are
/// not in the repository; their analysis re-runs the binary on them, see its README.)
@Suite struct ForgettingTests {
    func risk(_ tuned: String, base: String = "k3/pretrained.keras", policy: Policy = Policy()) throws -> ForgettingAssessment {
        try DriftEngine.compare(base: Checkpoint.open(Samples.path(base)), tuned: Checkpoint.open(Samples.path(tuned)),
                                policy: policy).forgetting
    }

    @Test func samplesAreOrderedByHowMuchTheyMoved() throws {
        let same = try risk("k3/pretrained.weights.h5")
        let low = try risk("k3/ft_lowlr.keras")
        let high = try risk("k3/ft_highlr.keras")
        #expect(same.score == 0 && same.risk == .low)
        #expect(try #require(low.score) < #require(high.score))
        #expect(high.risk == .high)
        #expect(try risk("k3/ft_nan.keras").risk == .high)
        // A frozen backbone with a retrained shared head still forgot (original accuracy 0.99 → 0.27):
        // the shared head is part of the backbone.
        #expect(try risk("k3/ft_frozen.keras").risk == .high)
    }

    /// The layers both files hold with the same shapes (the backbone), by the generator's record.
    static func sharedLayers(_ base: String, _ tuned: String) throws -> (shared: Set<String>, others: Set<String>) {
        func shapes(_ file: String) throws -> [String: [[Int]]] {
            let truth = try #require(Samples.manifest.files[file], "\(file) is not in the manifest")
            return Dictionary(uniqueKeysWithValues: truth.layers.map { ($0.name, $0.weights.map(\.shape)) })
        }
        let b = try shapes(base), t = try shapes(tuned)
        let shared = Set(b.keys.filter { t[$0] == b[$0] })
        return (shared, Set(b.keys).union(t.keys).subtracting(shared))
    }

    @Test func newAndDeclaredHeadLayersAreLeftOut() throws {
        let newHead = try risk("k3/ft_newhead.keras")
        let layers = try Self.sharedLayers("k3/pretrained.keras", "k3/ft_newhead.keras")
        try #require(!layers.others.isEmpty)
        #expect(Set(newHead.headLayers).isSuperset(of: layers.others))
        #expect(Set(newHead.profile.map(\.name)) == layers.shared)
        // The frozen run's last layer trained: declared as the head, the rest did not move.
        let head = try #require(Samples.manifest.files["k3/ft_frozen.keras"]?.layers.last?.name)
        var policy = Policy()
        policy.headPatterns = [head]
        let frozenWithHead = try risk("k3/ft_frozen.keras", policy: policy)
        #expect(frozenWithHead.headLayers == [head])
        #expect(frozenWithHead.score == 0)
    }

    @Test func failOnRiskGatesTheRelease() throws {
        var policy = Policy()
        policy.failOnRisk = .medium
        let report = try DriftEngine.compare(base: Checkpoint.open(Samples.path("k3/pretrained.keras")),
                                             tuned: Checkpoint.open(Samples.path("k3/ft_lowlr.keras")), policy: policy)
        #expect(report.forgetting.risk >= .medium)
        #expect(!report.summary.passed)
        #expect(report.summary.failures.contains(.forgettingRisk(report.forgetting.risk, failsFrom: .medium)))
    }

    /// The sample fine-tunes whose original-task accuracy the generator measured after training
    /// (samples/manifest.json `runs`), with the points each lost against its base.
    static func measuredRuns() throws -> [(file: String, lost: Double, nan: Bool)] {
        let manifest = Samples.manifest
        let base = try #require(manifest.runs["k3_pretrained"]?.originalTaskAccuracy)
        return try Samples.files.filter { $0.hasPrefix("k3/ft_") && $0.hasSuffix(".keras") }.compactMap { file in
            let run = try #require(manifest.files[file]?.run, "\(file): no run in the manifest")
            let truth = try #require(manifest.runs["k3_\(run)"], "\(file): run k3_\(run) not in the manifest")
            return truth.originalTaskAccuracy.map { (file, (base - $0) * 100, truth.weightsHaveNaN) }
        }
    }

    /// The default levels on the sample fine-tunes, against the accuracy the generator measured
    /// (< 5 points lost low, 5–20 medium, > 20 high): cautious, so none is called below its band,
    /// and NaN weights are high whatever the drift.
    @Test func defaultsNeverCallASampleRunBelowItsMeasuredBand() throws {
        let runs = try Self.measuredRuns()
        #expect(runs.count >= 5, "\(runs.map(\.file))")
        #expect(runs.contains { $0.lost > ForgettingCalibration.highLoss } && runs.contains { $0.lost < ForgettingCalibration.mediumLoss })
        for run in runs {
            let assessed = try risk(run.file)
            #expect(assessed.cutPoints == .defaults)
            #expect(assessed.risk >= ForgettingCalibration.band(forLoss: run.lost), "\(run.file): lost \(run.lost) points, \(assessed.risk)")
            if run.nan {
                #expect(assessed.risk == .high, "\(run.file)")
                #expect({ if case .nonFinite = assessed.basis { true } else { false } }(), "\(run.file): \(assessed.basis)")
            }
        }
    }
}
