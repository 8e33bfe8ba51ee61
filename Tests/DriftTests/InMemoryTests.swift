import Checkpoint
import Drift
import Foundation
import Testing

/// Matching, the engine, verdicts, NaN findings and coverage on checkpoints built in memory: the
/// expected figures are computed here from the values, the obvious way.
@Suite struct InMemoryTests {
    /// A layer of named float32 weights; values from a seeded generator so every run is the same.
    static func layer(_ name: String, _ weights: [(String, [Int], [Double])], className: String? = "Dense") -> Layer {
        Layer(name: name, className: className, path: name, weights: weights.map { weightName, shape, values in
            Weight(name: weightName, path: "\(name)/\(weightName)", tensor: InMemoryTensor(shape: shape, values: values))
        })
    }

    static func values(_ count: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(Float(Double(state >> 11) / Double(1 << 53) * 2 - 1))
        }
    }

    /// Tuned = base + scale · noise, rounded to float32 as a stored weight would be.
    static func drifted(_ base: [Double], by scale: Double, seed: UInt64) -> [Double] {
        zip(base, values(base.count, seed: seed)).map { Double(Float($0 + scale * $1)) }
    }

    static let kernel = values(64 * 8, seed: 1), bias = values(8, seed: 2), head = values(8 * 4, seed: 3)

    static func base() -> Checkpoint {
        Checkpoint(inMemory: [layer("encoder", [("kernel", [64, 8], kernel), ("bias", [8], bias)]),
                              layer("head", [("kernel", [8, 4], head)])], path: "base")
    }

    @Test func pairsLayersByNameAndWeightsByName() throws {
        let tuned = Checkpoint(inMemory: [Self.layer("extra", [("kernel", [2, 2], [1, 2, 3, 4])]),
                                          Self.layer("head", [("kernel", [8, 4], Self.head)]),
                                          Self.layer("encoder", [("bias", [8], Self.bias), ("kernel", [64, 8], Self.kernel)])],
                               path: "tuned")
        let rows = try Matcher.align(base: Self.base(), tuned: tuned, mode: .name).rows
        let paired = rows.filter { $0.base != nil && $0.tuned != nil }
        #expect(Set(paired.map { $0.base!.name }) == ["encoder", "head"])
        for row in paired {
            #expect(row.base?.name == row.tuned?.name)
            for weight in row.weights { #expect(weight.comparable && weight.base?.name == weight.tuned?.name) }
        }
        #expect(rows.contains { $0.base == nil && $0.tuned?.name == "extra" })
    }

    @Test func engineFiguresEqualTheDefinitions() throws {
        let tunedKernel = Self.drifted(Self.kernel, by: 0.01, seed: 9)
        let tuned = Checkpoint(inMemory: [Self.layer("encoder", [("kernel", [64, 8], tunedKernel), ("bias", [8], Self.bias)]),
                                          Self.layer("head", [("kernel", [8, 4], Self.head)])], path: "tuned")
        let report = try DriftEngine.compare(base: Self.base(), tuned: tuned, policy: Policy())
        let encoder = try #require(report.layers.first { $0.name == "encoder" })
        let metrics = try #require(encoder.weights.first { $0.name == "kernel" }?.metrics)
        let diff = zip(tunedKernel, Self.kernel).map { $0 - $1 }
        let norm = { (v: [Double]) in sqrt(v.reduce(0) { $0 + $1 * $1 }) }
        let relative = norm(diff) / norm(Self.kernel)
        let cosine = zip(tunedKernel, Self.kernel).reduce(0) { $0 + $1.0 * $1.1 } / (norm(tunedKernel) * norm(Self.kernel))
        #expect(abs(metrics.relativeChange - relative) <= 1e-12 * relative)
        #expect(abs(try #require(metrics.cosine) - cosine) <= 1e-12)
        #expect(encoder.weights.first { $0.name == "bias" }?.status == .frozen)
        #expect(report.layers.first { $0.name == "head" }?.status == .frozen)
        #expect(report.summary.coverage.fraction == 1)
    }

    /// The default limits: relative change warns from 0.05, fails from 0.20.
    @Test(arguments: [(0.001, Status.ok), (0.1, .warn), (0.5, .fail)])
    func verdictFollowsTheLimits(_ scale: Double, _ expected: Status) throws {
        let tuned = Checkpoint(inMemory: [Self.layer("encoder", [("kernel", [64, 8], Self.drifted(Self.kernel, by: scale, seed: 4)),
                                                                 ("bias", [8], Self.bias)]),
                                          Self.layer("head", [("kernel", [8, 4], Self.head)])], path: "tuned")
        let report = try DriftEngine.compare(base: Self.base(), tuned: tuned, policy: Policy())
        let encoder = try #require(report.layers.first { $0.name == "encoder" })
        let relative = try #require(encoder.metrics?.relativeChange)
        let limits = Policy().thresholds
        let byLimits: Status = relative >= limits.fail.relativeChange ? .fail : relative >= limits.warn.relativeChange ? .warn : .ok
        #expect(byLimits == expected, "scale \(scale) gives relative change \(relative)")
        #expect(encoder.status == expected)
        #expect(report.summary.passed == (expected != .fail))
    }

    @Test func nanInTheTunedWeightsFailsTheGate() throws {
        var broken = Self.head
        broken[5] = .nan
        broken[6] = .infinity
        let tuned = Checkpoint(inMemory: [Self.layer("encoder", [("kernel", [64, 8], Self.kernel), ("bias", [8], Self.bias)]),
                                          Self.layer("head", [("kernel", [8, 4], broken)])], path: "tuned")
        let report = try DriftEngine.compare(base: Self.base(), tuned: tuned, policy: Policy())
        let head = try #require(report.layers.first { $0.name == "head" })
        #expect(head.nanInTuned == 1 && head.infInTuned == 1)
        #expect(head.status == .fail)
        #expect(!report.summary.passed)
        #expect(report.summary.failures.contains { if case .layer(name: "head", _, _) = $0 { true } else { false } })
    }

    @Test func coverageCountsWhatWasCompared() throws {
        // The tuned side lost the head: the encoder's parameters are all that is compared.
        let tuned = Checkpoint(inMemory: [Self.layer("encoder", [("kernel", [64, 8], Self.kernel), ("bias", [8], Self.bias)])], path: "tuned")
        let base = Self.base()
        let report = try DriftEngine.compare(base: base, tuned: tuned, policy: Policy())
        let coverage = report.summary.coverage
        #expect(coverage.baseParameters == base.totalParameters)
        #expect(coverage.comparedParameters == Self.kernel.count + Self.bias.count)
        #expect(coverage.comparedLayers == 1 && coverage.baseLayers == 2)
        #expect(report.layers.contains { $0.name == "head" && $0.status == .removed })
    }

    @Test func wideIntegersAreComparedByTheirBits() throws {
        // 64-bit integer weights go through the bits path: changed elements are counted from the bits.
        let big = Double(1 << 53)
        func checkpoint(_ tensor: InMemoryTensor, _ path: String) -> Checkpoint {
            Checkpoint(inMemory: [Layer(name: "counter", path: "counter",
                                        weights: [Weight(name: "value", path: "counter/value", tensor: tensor)])], path: path)
        }
        let base = checkpoint(InMemoryTensor(shape: [2], dtype: .int64, values: [big, 1]), "base")
        let same = checkpoint(InMemoryTensor(shape: [2], dtype: .int64, values: [big, 1]), "same")
        let changed = checkpoint(InMemoryTensor(shape: [2], dtype: .int64, values: [big, 2]), "changed")
        let frozen = try DriftEngine.compare(base: base, tuned: same, policy: Policy())
        #expect(frozen.layers.first?.sums?.changedCount == 0)
        let report = try DriftEngine.compare(base: base, tuned: changed, policy: Policy())
        #expect(report.layers.first?.sums?.changedCount == 1)
    }
}
