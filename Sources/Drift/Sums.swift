import Foundation
import RealModule

/// The raw sums of one streamed pass over a pair of tensors (or several, for a layer). Every
/// metric a user sees is derived from these; merging two is exact, so a layer's figures are
/// those of all its weights taken together.
public struct DriftSums: Sendable, Equatable {
    public var count = 0
    /// Elements finite in both files; every sum runs over these only.
    public var finiteCount = 0
    public var baseNaN = 0, baseInf = 0, tunedNaN = 0, tunedInf = 0
    /// Elements whose stored bits differ (over all elements, NaN included).
    public var changedCount = 0
    public var sumBaseSquares = 0.0
    public var sumTunedSquares = 0.0
    public var sumDot = 0.0
    /// Σ(b − a)², from the difference itself: Σa² + Σb² − 2Σab cancels to 0 for small drifts.
    public var sumDiffSquares = 0.0
    public var maxAbsChange = 0.0

    public init() {}

    /// Elements per block: each block sums into fresh Double accumulators that are then added to
    /// the totals, which keeps the rounding error of long sums near that of pairwise summation.
    static let block = 4096

    /// Adds one aligned slice of base and tuned values (same length).
    public mutating func accumulate(base: [Double], tuned: [Double]) {
        precondition(base.count == tuned.count, "slices of a pair must be aligned")
        count += base.count
        var start = 0
        while start < base.count {
            let end = min(start + Self.block, base.count)
            var bb = 0.0, tt = 0.0, bt = 0.0, dd = 0.0, maxChange = maxAbsChange
            var finite = 0, changed = 0
            for i in start..<end {
                let a = base[i], b = tuned[i]
                if a.bitPattern != b.bitPattern { changed += 1 }
                if a.isFinite && b.isFinite {
                    let d = b - a
                    bb += a * a
                    tt += b * b
                    bt += a * b
                    dd += d * d
                    maxChange = max(maxChange, abs(d))
                    finite += 1
                } else {
                    if a.isNaN { baseNaN += 1 } else if a.isInfinite { baseInf += 1 }
                    if b.isNaN { tunedNaN += 1 } else if b.isInfinite { tunedInf += 1 }
                }
            }
            sumBaseSquares += bb
            sumTunedSquares += tt
            sumDot += bt
            sumDiffSquares += dd
            maxAbsChange = maxChange
            finiteCount += finite
            changedCount += changed
            start = end
        }
    }

    /// The same for float32 slices, the common case, without widening whole slices first: each
    /// block is summed with reassociation allowed (so it vectorises) and, only when a block holds
    /// a NaN or Inf (its sums are then not finite — float32 squares cannot overflow a Double),
    /// summed again element by element.
    public mutating func accumulate(base: [Float], tuned: [Float]) {
        precondition(base.count == tuned.count, "slices of a pair must be aligned")
        var start = 0
        while start < base.count {
            let end = min(start + Self.block, base.count)
            var bb = 0.0, tt = 0.0, bt = 0.0, dd = 0.0, maxChange = 0.0
            var changed = 0
            for i in start..<end {
                let a = Double(base[i]), b = Double(tuned[i])
                let d = b - a
                bb = Relaxed.multiplyAdd(a, a, bb)
                tt = Relaxed.multiplyAdd(b, b, tt)
                bt = Relaxed.multiplyAdd(a, b, bt)
                dd = Relaxed.multiplyAdd(d, d, dd)
                maxChange = Swift.max(maxChange, Swift.abs(d))
                changed &+= base[i].bitPattern == tuned[i].bitPattern ? 0 : 1
            }
            if bb.isFinite && tt.isFinite {
                count += end - start
                finiteCount += end - start
                changedCount += changed
                sumBaseSquares += bb
                sumTunedSquares += tt
                sumDot += bt
                sumDiffSquares += dd
                maxAbsChange = Swift.max(maxAbsChange, maxChange)
            } else {
                accumulate(base: base[start..<end].map { Double($0) }, tuned: tuned[start..<end].map { Double($0) })
            }
            start = end
        }
    }

    public mutating func merge(_ other: DriftSums) {
        count += other.count
        finiteCount += other.finiteCount
        baseNaN += other.baseNaN
        baseInf += other.baseInf
        tunedNaN += other.tunedNaN
        tunedInf += other.tunedInf
        changedCount += other.changedCount
        sumBaseSquares += other.sumBaseSquares
        sumTunedSquares += other.sumTunedSquares
        sumDot += other.sumDot
        sumDiffSquares += other.sumDiffSquares
        maxAbsChange = max(maxAbsChange, other.maxAbsChange)
    }

    /// Replaces the changed-element count of the last `accumulate` with one taken from the stored
    /// bits: 64-bit integers above 2^53 lose their last bits as Double, so two values that differ
    /// by 1 would read as equal.
    public mutating func recountChanged(lastSlice doubles: (base: [Double], tuned: [Double]), bits: (base: [UInt64], tuned: [UInt64])) {
        var fromDoubles = 0, fromBits = 0
        for i in doubles.base.indices where doubles.base[i].bitPattern != doubles.tuned[i].bitPattern { fromDoubles += 1 }
        for i in bits.base.indices where bits.base[i] != bits.tuned[i] { fromBits += 1 }
        changedCount += fromBits - fromDoubles
    }

    /// Every element bit-identical (true for an empty tensor).
    public var frozen: Bool { changedCount == 0 }

    /// Share of elements whose stored bits differ.
    public var changedFraction: Double { count > 0 ? Double(changedCount) / Double(count) : 0 }

    /// The drift figures; nil when no element is finite in both files (every figure would be
    /// undefined: an all-NaN tensor has no norm, not a norm of 0).
    public var metrics: DriftMetrics? { finiteCount > 0 ? DriftMetrics(self) : nil }
}

/// What the sums mean, over the elements finite in both files (at least one). Nil where a figure
/// is undefined (a zero norm).
public struct DriftMetrics: Sendable, Equatable {
    public enum RelativeTo: String, Sendable { case norm, rms }

    public let baseNorm: Double
    public let tunedNorm: Double
    public let diffNorm: Double
    /// ‖W₁−W₀‖/‖W₀‖; where the base is about zero (RMS below `zeroBaseRMS`, e.g. a zero-initialised
    /// bias), the RMS of the change instead, and `relativeTo` says which.
    public let relativeChange: Double
    public let relativeTo: RelativeTo
    public let normRatio: Double?
    public let cosine: Double?
    public let angleDegrees: Double?
    public let rmsChange: Double
    public let maxAbsChange: Double
    public let changedFraction: Double
    /// Every element bit-identical.
    public let frozen: Bool
    public let nonFiniteInTuned: Int
    public let nonFiniteInBase: Int

    /// Below this RMS a base tensor counts as zero for the relative change.
    public static let zeroBaseRMS = 1e-8

    init(_ sums: DriftSums) {
        baseNorm = sums.sumBaseSquares.squareRoot()
        tunedNorm = sums.sumTunedSquares.squareRoot()
        diffNorm = sums.sumDiffSquares.squareRoot()
        let finite = Double(sums.finiteCount)
        rmsChange = diffNorm / finite.squareRoot()
        if baseNorm / finite.squareRoot() < Self.zeroBaseRMS {
            relativeChange = rmsChange
            relativeTo = .rms
        } else {
            relativeChange = diffNorm / baseNorm
            relativeTo = .norm
        }
        normRatio = baseNorm > 0 ? tunedNorm / baseNorm : nil
        if baseNorm > 0, tunedNorm > 0 {
            // No difference at all is a cosine of exactly 1 (the rounded quotient reads 0.9999999999999998).
            let c = sums.sumDiffSquares == 0 ? 1 : min(1, max(-1, sums.sumDot / (baseNorm * tunedNorm)))
            cosine = c
            angleDegrees = acos(c) * 180 / .pi
        } else {
            cosine = nil
            angleDegrees = nil
        }
        maxAbsChange = sums.maxAbsChange
        changedFraction = sums.changedFraction
        frozen = sums.frozen
        nonFiniteInTuned = sums.tunedNaN + sums.tunedInf
        nonFiniteInBase = sums.baseNaN + sums.baseInf
    }
}
