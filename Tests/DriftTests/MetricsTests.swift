import Drift
import Foundation
import Testing

/// The streamed sums against values worked out on paper.
@Suite struct MetricsTests {
    func sums(_ base: [Double], _ tuned: [Double]) throws -> DriftMetrics {
        var s = DriftSums()
        s.accumulate(base: base, tuned: tuned)
        return try #require(s.metrics)
    }

    @Test func identicalTensorsAreFrozen() throws {
        let m = try sums([3, 4], [3, 4])
        #expect(m.frozen)
        #expect(m.relativeChange == 0)
        #expect(m.cosine == 1)
        #expect(m.baseNorm == 5)
    }

    @Test func orthogonalTensors() throws {
        let m = try sums([1, 0], [0, 1])
        #expect(m.cosine == 0)
        #expect(abs(m.angleDegrees! - 90) < 1e-12)
        #expect(abs(m.relativeChange - 2.0.squareRoot()) < 1e-15)
        #expect(m.changedFraction == 1)
    }

    /// A drift of 1e-7 must read as 1e-7: the difference is summed directly.
    @Test(arguments: [1e-4, 1e-7, 1e-9])
    func tinyRelativeDriftIsExact(_ epsilon: Double) throws {
        let n = 100_000
        let base = (0..<n).map { Double(Float(sin(Double($0)) * 1e3)) }
        let tuned = base.map { $0 * (1 + epsilon) }
        let m = try sums(base, tuned)
        #expect(abs(m.relativeChange / epsilon - 1) < 1e-6, "\(m.relativeChange) vs \(epsilon)")
    }

    @Test func zeroBaseUsesRMSOfTheChange() throws {
        let m = try sums([0, 0, 0, 0], [0.1, -0.1, 0.1, -0.1])
        #expect(m.relativeTo == .rms)
        #expect(abs(m.relativeChange - 0.1) < 1e-15)
        #expect(m.cosine == nil)
        #expect(m.normRatio == nil)
    }

    @Test(arguments: [false, true])
    func nonFiniteValuesAreCountedAndLeftOutOfTheSums(_ float32: Bool) {
        var s = DriftSums()
        let base: [Double] = [1, 2, 3, .nan], tuned: [Double] = [1, .nan, .infinity, 5]
        if float32 {
            s.accumulate(base: base.map { Float($0) }, tuned: tuned.map { Float($0) })
        } else {
            s.accumulate(base: base, tuned: tuned)
        }
        #expect(s.tunedNaN == 1)
        #expect(s.tunedInf == 1)
        #expect(s.baseNaN == 1)
        #expect(s.finiteCount == 1)
        #expect(s.sumBaseSquares == 1)
        #expect(s.changedCount == 3)
        // The one element finite in both files is unchanged.
        #expect(s.metrics?.relativeChange == 0)
    }

    /// Streaming in slices and merging per-weight sums give the figures of one pass over all.
    @Test func slicingAndMergingAreExactlyAdditive() {
        var rng = SplitMix(seed: 7)
        let base = (0..<10_000).map { _ in rng.nextDouble() - 0.5 }
        let tuned = base.map { $0 + (rng.nextDouble() - 0.5) * 1e-3 }
        var whole = DriftSums()
        whole.accumulate(base: base, tuned: tuned)
        var sliced = DriftSums()
        for start in stride(from: 0, to: base.count, by: 4096) {
            var part = DriftSums()
            let end = min(start + 4096, base.count)
            part.accumulate(base: Array(base[start..<end]), tuned: Array(tuned[start..<end]))
            sliced.merge(part)
        }
        #expect(sliced == whole)
    }
}

extension MetricsTests {
    /// The float32 kernel (blocked, reassociated) agrees with the element-by-element Double one,
    /// with and without non-finite values in some blocks.
    @Test(arguments: [0, 3, 50])
    func float32KernelAgreesWithTheDoubleKernel(_ nonFinite: Int) {
        var rng = SplitMix(seed: 11)
        var base = (0..<20_000).map { _ in Float(rng.nextDouble() - 0.5) }
        var tuned = base.map { $0 + Float((rng.nextDouble() - 0.5) * 1e-4) }
        for i in 0..<nonFinite {
            let index = Int(rng.next() % UInt64(base.count))
            if i % 2 == 0 { tuned[index] = .nan } else { base[index] = -.infinity }
        }
        var fast = DriftSums(), reference = DriftSums()
        fast.accumulate(base: base, tuned: tuned)
        reference.accumulate(base: base.map { Double($0) }, tuned: tuned.map { Double($0) })
        #expect(fast.count == reference.count)
        #expect(fast.finiteCount == reference.finiteCount)
        #expect(fast.changedCount == reference.changedCount)
        #expect(fast.tunedNaN == reference.tunedNaN && fast.baseInf == reference.baseInf)
        #expect(fast.maxAbsChange == reference.maxAbsChange)
        for (x, y) in [(fast.sumBaseSquares, reference.sumBaseSquares), (fast.sumTunedSquares, reference.sumTunedSquares),
                       (fast.sumDot, reference.sumDot), (fast.sumDiffSquares, reference.sumDiffSquares)] {
            #expect(abs(x - y) <= 1e-12 * abs(y), "\(x) vs \(y)")
        }
    }
}

extension MetricsTests {
    /// A float32 drift of one unit in the last place (a relative change near 1e-7) reads as
    /// itself through the vector kernel: agreement to 1e-9 relative with a plain sum in Double
    /// over the same floats, at lengths that leave a tail after the vectors and span blocks.
    @Test(arguments: [4096, 20_003])
    func float32KernelKeepsADriftOfOneUlp(_ n: Int) throws {
        let base = (0..<n).map { Float(sin(Double($0)) * 1e3) }
        let tuned = base.map { $0.nextUp }
        var sums = DriftSums()
        sums.accumulate(base: base, tuned: tuned)
        var squares = 0.0, diffs = 0.0
        for (a, b) in zip(base, tuned) {
            squares += Double(a) * Double(a)
            diffs += (Double(b) - Double(a)) * (Double(b) - Double(a))
        }
        let expected = (diffs / squares).squareRoot()
        let metrics = try #require(sums.metrics)
        #expect(expected > 3e-8 && expected < 2e-7, "the drift under test is \(expected)")
        #expect(abs(metrics.relativeChange / expected - 1) < 1e-9, "\(metrics.relativeChange) vs \(expected)")
        #expect(sums.changedCount == n)
        #expect(metrics.maxAbsChange == zip(base, tuned).map { Double($1) - Double($0) }.max())
    }
}

/// A small seeded generator, so the property tests are repeatable.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
