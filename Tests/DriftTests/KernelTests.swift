import Checkpoint
import Drift
import Testing

/// The AVX2 and AVX-512 kernels against the portable one: the same sums to the last bit, so a
/// report does not depend on the CPU that computed it.
@Suite struct KernelTests {
    /// A fixed linear congruential sequence (Knuth's MMIX constants), so every run tests the same values.
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
    }

    /// Deterministic values of every kind the kernel meets: ordinary weights, exact repeats (so
    /// some elements are unchanged), ±0, subnormals, the largest floats, and NaN/Inf in some runs.
    static func values(_ count: Int, seed: UInt64, specials: Bool) -> ([Float], [Float]) {
        var generator = LCG(state: seed)
        func next() -> UInt64 { generator.next() }
        var a: [Float] = [], b: [Float] = []
        for _ in 0..<count {
            let x = Float(Double(next() % 2_000_001) / 1_000_000 - 1) * 0.05
            var y = x + Float(Double(next() % 2001) / 1000 - 1) * 1e-4
            switch next() % 16 {
            case 0: y = x
            case 1 where specials: y = .nan
            case 2 where specials: y = -.infinity
            case 3: y = .leastNonzeroMagnitude
            case 4: y = -.greatestFiniteMagnitude
            case 5: y = -0.0
            default: break
            }
            a.append(next() % 32 == 0 ? 0 : x)
            b.append(y)
        }
        return (a, b)
    }

    static let lengths = [1, 7, 8, 9, 15, 4095, 4096, 4097, 65_536 + 13]

    /// The vector kernels this CPU runs.
    static let wide = VectorKernel.available.filter { $0 != .portable }

    @Test(.enabled(if: VectorKernel.available.contains(.avx2)), arguments: [false, true])
    func avx2GivesThePortableKernelsBits(_ specials: Bool) {
        for (index, n) in Self.lengths.enumerated() {
            let (a, b) = Self.values(n, seed: UInt64(index + 1), specials: specials)
            var portable = DriftSums()
            portable.accumulate(base: a, tuned: b, kernel: .portable)
            #expect(portable.count == n)
            for kernel in Self.wide {
                var vector = DriftSums()
                vector.accumulate(base: a, tuned: b, kernel: kernel)
                #expect(portable == vector, "\(kernel), \(n) values, specials \(specials)")
                #expect(portable.sumDiffSquares.bitPattern == vector.sumDiffSquares.bitPattern)
            }
        }
    }

    /// Where the CPU has AVX-512, its kernel gives the AVX2 kernel's bits on long runs of ordinary
    /// weights too (one block's lanes, and the sum of many blocks).
    @Test(.enabled(if: VectorKernel.available.contains(.avx512)), arguments: [4096, 1 << 20])
    func avx512GivesTheAVX2KernelsBits(_ n: Int) {
        let (a, b) = Self.values(n, seed: 77, specials: false)
        var avx2 = DriftSums(), avx512 = DriftSums()
        avx2.accumulate(base: a, tuned: b, kernel: .avx2)
        avx512.accumulate(base: a, tuned: b, kernel: .avx512)
        #expect(avx2 == avx512)
        #expect([avx2.sumBaseSquares, avx2.sumTunedSquares, avx2.sumDot, avx2.sumDiffSquares, avx2.maxAbsChange].map(\.bitPattern)
                == [avx512.sumBaseSquares, avx512.sumTunedSquares, avx512.sumDot, avx512.sumDiffSquares, avx512.maxAbsChange].map(\.bitPattern))
        #expect(avx2.changedCount == avx512.changedCount && avx2.changedCount > 0 && avx2.changedCount < n)
    }

    /// Both kernels against a plain element-by-element Double loop: counts exactly, sums to
    /// float64 rounding.
    @Test(arguments: VectorKernel.available)
    func eachKernelAgreesWithThePlainLoop(_ kernel: VectorKernel) {
        for (index, n) in Self.lengths.enumerated() {
            let (a, b) = Self.values(n, seed: UInt64(100 + index), specials: true)
            var sums = DriftSums(), plain = DriftSums()
            sums.accumulate(base: a, tuned: b, kernel: kernel)
            plain.accumulate(base: a.map(Double.init), tuned: b.map(Double.init))
            #expect(sums.count == plain.count && sums.finiteCount == plain.finiteCount)
            #expect(sums.changedCount == plain.changedCount)
            #expect((sums.tunedNaN, sums.tunedInf, sums.baseNaN) == (plain.tunedNaN, plain.tunedInf, plain.baseNaN))
            #expect(sums.maxAbsChange == plain.maxAbsChange)
            for (x, y) in [(sums.sumBaseSquares, plain.sumBaseSquares), (sums.sumTunedSquares, plain.sumTunedSquares),
                           (sums.sumDot, plain.sumDot), (sums.sumDiffSquares, plain.sumDiffSquares)] {
                #expect(abs(x - y) <= 1e-12 * max(abs(y), 1e-300), "\(kernel), \(n) values: \(x) vs \(y)")
            }
        }
    }

    /// Deterministic 16-bit words: ordinary small weights with small changes, exact repeats, and
    /// (with `specials`) every kind of pattern, NaN and Inf included.
    static func words(_ count: Int, seed: UInt64, specials: Bool) -> ([UInt16], [UInt16]) {
        var generator = LCG(state: seed)
        func next() -> UInt64 { generator.next() }
        var a: [UInt16] = [], b: [UInt16] = []
        for _ in 0..<count {
            let x = UInt16(0x2000 + next() % 0x1000) | (next() % 2 == 0 ? 0x8000 : 0)
            var y = next() % 4 == 0 ? x : x &+ UInt16(next() % 16) &- 8
            if specials, next() % 64 == 0 { y = UInt16(truncatingIfNeeded: next()) }
            a.append(x)
            b.append(y)
        }
        return (a, b)
    }

    /// The fused 16-bit kernels (AVX2, AVX-512) against widening first and the portable float32 kernel.
    @Test(.enabled(if: VectorKernel.available.contains(.avx2)), arguments: [false, true])
    func fusedHalvesGiveTheWidenedFloatsBits(_ bfloat16: Bool) {
        for (index, n) in Self.lengths.enumerated() {
            for specials in [false, true] {
                let (a, b) = Self.words(n, seed: UInt64(200 + index), specials: specials)
                var widened = DriftSums()
                var x: [Float] = [], y: [Float] = []
                Widening.widen(a, bfloat16: bfloat16, into: &x, kernel: .portable)
                Widening.widen(b, bfloat16: bfloat16, into: &y, kernel: .portable)
                widened.accumulate(base: x, tuned: y, kernel: .portable)
                for kernel in Self.wide {
                    var fused = DriftSums()
                    fused.accumulate(halves: a, tuned: b, bfloat16: bfloat16, kernel: kernel)
                    #expect(fused == widened, "\(kernel), \(n) words, bfloat16 \(bfloat16), specials \(specials)")
                    #expect(fused.changedCount == zip(a, b).filter { $0 != $1 }.count)
                }
            }
        }
    }
}
