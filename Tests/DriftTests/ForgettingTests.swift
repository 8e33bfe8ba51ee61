import Checkpoint
import Drift
import Foundation
import SampleFixtures
import Testing

/// The forgetting risk on real fine-tunes: the sample runs, and the 48 runs of
/// tools/experiments/forgetting whose original-task accuracy was measured before and after.
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

    @Test func newAndDeclaredHeadLayersAreLeftOut() throws {
        let newHead = try risk("k3/ft_newhead.keras")
        #expect(Set(newHead.headLayers).isSuperset(of: ["dense_4", "dense_5", "dense_1"]))
        #expect(newHead.profile.count == 4)
        var policy = Policy()
        policy.headPatterns = ["dense_1"]
        let frozenWithHead = try risk("k3/ft_frozen.keras", policy: policy)
        #expect(frozenWithHead.headLayers == ["dense_1"])
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

    /// The rule's thresholds against measured forgetting: recomputes each run's score from the
    /// recorded drift (base norms and change norms of the layers in both files with the same
    /// shapes) and checks the class against the measured accuracy drop (< 5 points low, > 30 high).
    @Test func ruleClassifiesTheMeasuredExperimentRuns() throws {
        let folder = Samples.root.appendingPathComponent("tools/experiments/forgetting")
        let runs = try #require(JSONValue.parse(try Data(contentsOf: folder.appendingPathComponent("runs.json")))?["runs"]?.array)
        var right = 0, underCalls = 0
        for run in runs {
            let name = try #require(run["run"]?.string), drop = try #require(run["drop"]?.number) * 100
            let drift = try #require(JSONValue.parse(try Data(contentsOf: folder.appendingPathComponent("drift/\(name).json"))))
            var change = 0.0, norm = 0.0
            for layer in drift["layers"]?.array ?? [] {
                guard let status = layer["status"]?.string, !["new", "removed", "reshaped"].contains(status),
                      let base = layer["baseNorm"]?.number, let diff = layer["diffNorm"]?.number else { continue }
                change += diff * diff
                norm += base * base
            }
            let score = norm > 0 ? (change / norm).squareRoot() : 0
            let predicted: ForgettingAssessment.Risk = score >= ForgettingAssessment.highFrom ? .high
                : score >= ForgettingAssessment.mediumFrom ? .medium : .low
            let measured: ForgettingAssessment.Risk = drop > 30 ? .high : drop < 5 ? .low : .medium
            if predicted == measured { right += 1 }
            if predicted < measured { underCalls += 1 }
        }
        #expect(runs.count >= 48)
        #expect(Double(right) / Double(runs.count) >= 0.95, "\(right) of \(runs.count)")
        #expect(underCalls == 0)
    }
}
