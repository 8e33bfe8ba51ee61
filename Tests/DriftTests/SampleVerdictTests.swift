import Checkpoint
import Drift
import Foundation
import SampleFixtures
import Testing

/// Real fine-tunes get the verdicts their drift warrants.
@Suite struct SampleVerdictTests {
    func compare(_ base: String, _ tuned: String, policy: Policy = Policy(), mode: MatchMode = .auto) throws -> DriftReport {
        try DriftEngine.compare(base: Checkpoint.open(Samples.path(base)), tuned: Checkpoint.open(Samples.path(tuned)),
                                policy: policy, mode: mode)
    }

    static let frameworks = ["k3", "tfk"]

    @Test(arguments: frameworks)
    func lowLearningRatePassesAndDriftsLittle(_ dir: String) throws {
        let report = try compare("\(dir)/pretrained.h5", "\(dir)/ft_lowlr.h5")
        #expect(report.summary.passed)
        #expect(report.layers.allSatisfy { $0.matchedBy == .name && ($0.metrics?.relativeChange ?? 1) < 0.2 })
    }

    @Test(arguments: frameworks)
    func highLearningRateFails(_ dir: String) throws {
        let low = try compare("\(dir)/pretrained.h5", "\(dir)/ft_lowlr.h5")
        let high = try compare("\(dir)/pretrained.h5", "\(dir)/ft_highlr.h5")
        #expect(!high.summary.passed)
        #expect(high.layers.contains { $0.status == .fail })
        // Every layer moved further than under the low learning rate.
        for (l, h) in zip(low.layers, high.layers) {
            #expect(h.metrics!.relativeChange > l.metrics!.relativeChange, "\(h.name)")
        }
    }

    @Test(arguments: frameworks)
    func frozenBackboneIsBitIdenticalAndOnlyTheHeadMoves(_ dir: String) throws {
        let report = try compare("\(dir)/pretrained.h5", "\(dir)/ft_frozen.h5")
        let head = try #require(report.layers.last)
        for layer in report.layers.dropLast() {
            #expect(layer.status == .frozen, "\(layer.name)")
            #expect(layer.metrics?.changedFraction == 0)
        }
        #expect(head.status != .frozen)
        #expect(head.metrics!.changedFraction > 0)
    }

    @Test func frozenPolicyRuleFailsWhenAFrozenLayerMoved() throws {
        var policy = Policy()
        policy.rules = [PolicyRule(pattern: "conv2d*", action: .frozen)]
        let frozen = try compare("k3/pretrained.h5", "k3/ft_frozen.h5", policy: policy)
        #expect(frozen.layers.filter { $0.name.hasPrefix("conv2d") }.allSatisfy { $0.status == .frozen })
        let moved = try compare("k3/pretrained.h5", "k3/ft_lowlr.h5", policy: policy)
        #expect(!moved.summary.passed)
        #expect(moved.layers.first { $0.name == "conv2d" }?.status == .fail)
    }

    @Test(arguments: ["k3/ft_nan.h5", "k3/ft_nan.keras", "k3/ft_nan.weights.h5", "tfk/ft_nan.h5"])
    func nanWeightsFailTheGate(_ tuned: String) throws {
        let base = tuned.hasPrefix("k3/") && tuned.hasSuffix(".weights.h5") ? "k3/pretrained.weights.h5" : "\(tuned.prefix(while: { $0 != "/" }))/pretrained.h5"
        let report = try compare(base, tuned)
        #expect(!report.summary.passed)
        let nanLayers = report.layers.filter { $0.nanInTuned + $0.infInTuned > 0 }
        #expect(!nanLayers.isEmpty)
        #expect(nanLayers.allSatisfy { $0.status == .fail && $0.failsGate })
    }

    @Test(arguments: ["k3/ft_renamed.h5", "k3/ft_renamed.keras", "tfk/ft_renamed.h5"])
    func rebuiltModelWithShiftedNamesIsFullyMatched(_ tuned: String) throws {
        let dir = String(tuned.prefix { $0 != "/" })
        let report = try compare("\(dir)/pretrained.h5", tuned)
        let base = try Checkpoint.open(Samples.path("\(dir)/pretrained.h5"))
        #expect(report.layers.count == base.layers.count)
        #expect(report.layers.allSatisfy { $0.matchedBy != nil && $0.status != .new && $0.status != .removed })
        #expect(report.layers.map(\.baseName) == base.layers.map(\.name))
        #expect(report.layers.contains { $0.matchedBy == .normalizedName })
    }

    @Test func newHeadIsReportedAndNotCompared() throws {
        let report = try compare("k3/pretrained.keras", "k3/ft_newhead.keras")
        let statuses = Set(report.layers.map(\.status))
        #expect(statuses.contains(.new) || statuses.contains(.reshaped))
        #expect(report.layers.filter { $0.status == .new }.allSatisfy { $0.metrics == nil })
        // Nothing dropped: every layer of both files appears once.
        let base = try Checkpoint.open(Samples.path("k3/pretrained.keras"))
        let tuned = try Checkpoint.open(Samples.path("k3/ft_newhead.keras"))
        #expect(Set(report.layers.compactMap(\.baseName)) == Set(base.layers.map(\.name)))
        #expect(Set(report.layers.compactMap(\.tunedName)) == Set(tuned.layers.map(\.name)))
        var strict = Policy()
        strict.allowNew = false
        #expect(!(try compare("k3/pretrained.keras", "k3/ft_newhead.keras", policy: strict)).summary.passed)
    }

    @Test(arguments: ["k3/pretrained.keras", "k3/pretrained.weights.h5", "k3/sharded/pretrained.weights.json"])
    func sameWeightsInAnotherLayoutAreAllFrozen(_ other: String) throws {
        let report = try compare("k3/pretrained.h5", other)
        #expect(report.summary.passed)
        #expect(report.layers.allSatisfy { $0.status == .frozen })
    }

    @Test func orderModeIgnoresNames() throws {
        let report = try compare("k3/pretrained.keras", "k3/ft_renamed.keras", mode: .order)
        #expect(report.layers.allSatisfy { $0.matchedBy == .order })
        // By exact name nothing pairs: not a pass with every layer new and removed, but bad input.
        #expect(throws: DriftError.self) { try compare("k3/pretrained.keras", "k3/ft_renamed.keras", mode: .name) }
    }
}
