import Checkpoint
import Testing

/// The vector widening of 2-byte floats against Swift's own conversions, on every bit pattern.
@Suite struct WideningTests {
    /// Every pattern once, then three more so the last ones take the element-by-element tail.
    static let patterns: [UInt16] = (0...UInt16.max).map { $0 } + [0x3C00, 0x8001, 0x7C01]

    @Test func float16IsWidenedExactly() {
        var values: [Float] = []
        Widening.widen(Self.patterns, bfloat16: false, into: &values)
        #expect(values.count == Self.patterns.count)
        var wrong: [UInt16] = []
        for (h, f) in zip(Self.patterns, values) {
            let expected = Float(Float16(bitPattern: h))
            // NaN payloads may be quieted by the hardware conversion: NaN and its sign must agree.
            let same = expected.isNaN ? f.isNaN && f.sign == expected.sign : f.bitPattern == expected.bitPattern
            if !same { wrong.append(h) }
        }
        #expect(wrong.isEmpty, "patterns widened wrongly: \(wrong.prefix(8))")
    }

    @Test func bfloat16IsTheHighHalfOfAFloat32() {
        var values: [Float] = []
        Widening.widen(Self.patterns, bfloat16: true, into: &values)
        #expect(values.map(\.bitPattern) == Self.patterns.map { UInt32($0) << 16 })
    }
}
