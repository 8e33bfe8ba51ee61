import CKernels
public import Checkpoint
import Foundation

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

    /// The same for float32 slices (and float16/bfloat16 widened to float32, exactly), the common
    /// case. Each block of `block` elements is summed by `floatBlock` into fresh Double
    /// accumulators; only when a block holds a NaN or Inf (its sums are then not finite — float32
    /// squares cannot overflow a Double) is it summed again element by element.
    public mutating func accumulate(base: [Float], tuned: [Float], kernel: VectorKernel = .chosen) {
        precondition(base.count == tuned.count, "slices of a pair must be aligned")
        base.withUnsafeBufferPointer { a in
            tuned.withUnsafeBufferPointer { b in accumulate(base: a, tuned: b, kernel: kernel) }
        }
    }

    public mutating func accumulate(base a: UnsafeBufferPointer<Float>, tuned b: UnsafeBufferPointer<Float>,
                                    kernel: VectorKernel = .chosen) {
        precondition(a.count == b.count, "slices of a pair must be aligned")
        let kernel = VectorKernel.available.contains(kernel) ? kernel : .portable
        guard let pa = a.baseAddress, let pb = b.baseAddress else { return }
        var start = 0
        while start < a.count {
            let n = min(Self.block, a.count - start)
            let part = Self.floatBlock(pa + start, pb + start, n, kernel: kernel)
            if part.bb.isFinite && part.tt.isFinite {
                add(part, n)
            } else {
                accumulate(base: (0..<n).map { Double(pa[start + $0]) }, tuned: (0..<n).map { Double(pb[start + $0]) })
            }
            start += n
        }
    }

    /// The same for a pair of float16 (or, with `bfloat16`, bfloat16) slices as stored: the sums
    /// are those of the values widened to float32 (exactly) and passed to `accumulate(base:tuned:)`,
    /// to the last bit. The AVX2 and AVX-512 kernels widen in registers, a block at a time; the
    /// portable one widens the slice into float32 buffers first.
    public mutating func accumulate(halves base: [UInt16], tuned: [UInt16], bfloat16: Bool, kernel: VectorKernel = .chosen) {
        precondition(base.count == tuned.count, "slices of a pair must be aligned")
        guard kernel.widensInRegisters else {
            var a: [Float] = [], b: [Float] = []
            Widening.widen(base, bfloat16: bfloat16, into: &a, kernel: kernel)
            Widening.widen(tuned, bfloat16: bfloat16, into: &b, kernel: kernel)
            accumulate(base: a, tuned: b, kernel: kernel)
            return
        }
        base.withUnsafeBufferPointer { a in
            tuned.withUnsafeBufferPointer { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else { return }
                var start = 0
                while start < a.count {
                    let n = min(Self.block, a.count - start)
                    let p = kernel == .avx512 ? wd_half_block_v4(pa + start, pb + start, n, bfloat16 ? 1 : 0)
                        : wd_half_block_v3(pa + start, pb + start, n, bfloat16 ? 1 : 0)
                    if p.bb.isFinite && p.tt.isFinite {
                        add(Partial(bb: p.bb, tt: p.tt, bt: p.bt, dd: p.dd, maxChange: p.max_change, changed: Int(p.changed)), n)
                    } else {
                        // NaN or Inf in the block: widened and summed element by element.
                        var x: [Float] = [], y: [Float] = []
                        Widening.widen(Array(a[start..<start + n]), bfloat16: bfloat16, into: &x, kernel: kernel)
                        Widening.widen(Array(b[start..<start + n]), bfloat16: bfloat16, into: &y, kernel: kernel)
                        accumulate(base: x.map(Double.init), tuned: y.map(Double.init))
                    }
                    start += n
                }
            }
        }
    }

    /// Adds a finite block's sums.
    private mutating func add(_ part: Partial, _ n: Int) {
        count += n
        finiteCount += n
        changedCount += part.changed
        sumBaseSquares += part.bb
        sumTunedSquares += part.tt
        sumDot += part.bt
        sumDiffSquares += part.dd
        maxAbsChange = Swift.max(maxAbsChange, part.maxChange)
    }

    struct Partial {
        var bb = 0.0, tt = 0.0, bt = 0.0, dd = 0.0, maxChange = 0.0
        var changed = 0
    }

    /// One fused pass over `n` float32 pairs with `kernel` (one this CPU runs): the AVX-512 or
    /// AVX2 kernel of CKernels, or the portable one below. All give the same bits.
    @inline(__always)
    static func floatBlock(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int, kernel: VectorKernel) -> Partial {
        let p: wd_partial
        switch kernel {
        case .portable: return portableFloatBlock(a, b, n)
        case .avx2: p = wd_float_block_v3(a, b, n)
        case .avx512: p = wd_float_block_v4(a, b, n)
        }
        return Partial(bb: p.bb, tt: p.tt, bt: p.bt, dd: p.dd, maxChange: p.max_change, changed: Int(p.changed))
    }

    /// The portable kernel, eight pairs a step in explicit vectors (SSE2, the x86-64 baseline,
    /// holds each 2-double vector in one register; no fast-math, no -march): each float is widened
    /// to Double, where the product of two floats is exact, and summed into four independent
    /// 2-double accumulators per sum, so the adds overlap — lane j sums the elements i ≡ j (mod 8)
    /// in order, and the lanes are added as ((L0+L4)+(L2+L6)) + ((L1+L5)+(L3+L7)), the order the
    /// AVX2 kernel's two 4-double accumulators give. The changed-bit count is an integer compare in
    /// the same pass; the largest |Δ| a compare-and-select that passes NaN over (a block with NaN
    /// or Inf has sums that are not finite and is redone element by element). The tail of fewer
    /// than eight pairs is summed one by one.
    static func portableFloatBlock(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Partial {
        var bb0 = SIMD2<Double>(), bb1 = bb0, bb2 = bb0, bb3 = bb0, tt0 = bb0, tt1 = bb0, tt2 = bb0, tt3 = bb0
        var bt0 = bb0, bt1 = bb0, bt2 = bb0, bt3 = bb0, dd0 = bb0, dd1 = bb0, dd2 = bb0, dd3 = bb0
        var largest = bb0
        var changed = SIMD4<UInt32>()
        let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
        let magnitude = SIMD2<UInt64>(repeating: 0x7FFF_FFFF_FFFF_FFFF)
        func abs(_ v: SIMD2<Double>) -> SIMD2<Double> {
            unsafeBitCast(unsafeBitCast(v, to: SIMD2<UInt64>.self) & magnitude, to: SIMD2<Double>.self)
        }
        var i = 0
        while i + 8 <= n {
            let x = rawA.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD8<Float>.self)
            let y = rawB.loadUnaligned(fromByteOffset: 4 &* i, as: SIMD8<Float>.self)
            let ne = unsafeBitCast(x, to: SIMD8<UInt32>.self) .!= unsafeBitCast(y, to: SIMD8<UInt32>.self)
            let one = SIMD8<UInt32>().replacing(with: 1, where: ne)
            changed &+= one.lowHalf &+ one.highHalf
            let p0 = SIMD2<Double>(x.lowHalf.lowHalf), p1 = SIMD2<Double>(x.lowHalf.highHalf)
            let p2 = SIMD2<Double>(x.highHalf.lowHalf), p3 = SIMD2<Double>(x.highHalf.highHalf)
            let q0 = SIMD2<Double>(y.lowHalf.lowHalf), q1 = SIMD2<Double>(y.lowHalf.highHalf)
            let q2 = SIMD2<Double>(y.highHalf.lowHalf), q3 = SIMD2<Double>(y.highHalf.highHalf)
            let d0 = q0 - p0, d1 = q1 - p1, d2 = q2 - p2, d3 = q3 - p3
            bb0 += p0 * p0
            bb1 += p1 * p1
            bb2 += p2 * p2
            bb3 += p3 * p3
            tt0 += q0 * q0
            tt1 += q1 * q1
            tt2 += q2 * q2
            tt3 += q3 * q3
            bt0 += p0 * q0
            bt1 += p1 * q1
            bt2 += p2 * q2
            bt3 += p3 * q3
            dd0 += d0 * d0
            dd1 += d1 * d1
            dd2 += d2 * d2
            dd3 += d3 * d3
            let m0 = abs(d0), m1 = abs(d1), m2 = abs(d2), m3 = abs(d3)
            largest = largest.replacing(with: m0, where: m0 .> largest)
            largest = largest.replacing(with: m1, where: m1 .> largest)
            largest = largest.replacing(with: m2, where: m2 .> largest)
            largest = largest.replacing(with: m3, where: m3 .> largest)
            i &+= 8
        }
        // (L0+L4, L1+L5) + (L2+L6, L3+L7) lane-wise, then the two lanes.
        func total(_ v0: SIMD2<Double>, _ v1: SIMD2<Double>, _ v2: SIMD2<Double>, _ v3: SIMD2<Double>) -> Double {
            let s = (v0 + v2) + (v1 + v3)
            return s[0] + s[1]
        }
        var part = Partial(bb: total(bb0, bb1, bb2, bb3), tt: total(tt0, tt1, tt2, tt3), bt: total(bt0, bt1, bt2, bt3),
                           dd: total(dd0, dd1, dd2, dd3), maxChange: Swift.max(largest[0], largest[1]),
                           changed: Int(changed.wrappedSum()))
        while i < n {
            let p = Double(a[i]), q = Double(b[i]), d = q - p
            part.bb += p * p
            part.tt += q * q
            part.bt += p * q
            part.dd += d * d
            part.maxChange = Swift.max(part.maxChange, Swift.abs(d))
            part.changed += a[i].bitPattern == b[i].bitPattern ? 0 : 1
            i += 1
        }
        return part
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
            // Bit-identical (finite) values are exactly parallel: cosine 1 and angle 0, not the
            // 0.9999999999999998 that rounding in the dot product and norms gives.
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
