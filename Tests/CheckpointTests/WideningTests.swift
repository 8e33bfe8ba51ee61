import Checkpoint
import Testing

/// The widening of 2-byte floats against Swift's own conversions, on every bit pattern, with
/// every kernel this CPU runs (the portable one, and AVX2 + F16C where available).
@Suite struct WideningTests {
    /// Every pattern once, then three more so the last ones take the element-by-element tail.
    static let patterns: [UInt16] = (0...UInt16.max).map { $0 } + [0x3C00, 0x8001, 0x7C01]

    /// What an exact widening gives: Swift's conversion for every half that is not NaN; for NaN the
    /// sign, the all-ones exponent and the payload moved into place, not quieted.
    static func expectedHalf(_ h: UInt16) -> UInt32 {
        let wide = UInt32(h)
        if wide & 0x7C00 == 0x7C00, wide & 0x03FF != 0 { return (wide & 0x8000) << 16 | 0x7F80_0000 | (wide & 0x03FF) << 13 }
        return Float(Float16(bitPattern: h)).bitPattern
    }

    @Test(arguments: VectorKernel.available)
    func float16IsWidenedExactly(_ kernel: VectorKernel) {
        var values: [Float] = []
        Widening.widen(Self.patterns, bfloat16: false, into: &values, kernel: kernel)
        #expect(values.count == Self.patterns.count)
        let wrong = zip(Self.patterns, values).filter { Self.expectedHalf($0) != $1.bitPattern }.map(\.0)
        #expect(wrong.isEmpty, "\(kernel): patterns widened wrongly: \(wrong.prefix(8))")
    }

    @Test(arguments: VectorKernel.available)
    func bfloat16IsTheHighHalfOfAFloat32(_ kernel: VectorKernel) {
        var values: [Float] = []
        Widening.widen(Self.patterns, bfloat16: true, into: &values, kernel: kernel)
        #expect(values.map(\.bitPattern) == Self.patterns.map { UInt32($0) << 16 })
    }

    @Test func thePortableKernelIsAlwaysAvailable() {
        #expect(VectorKernel.available.first == .portable)
        #expect(VectorKernel.available.contains(VectorKernel.chosen))
    }
}
