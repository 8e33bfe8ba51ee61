import CKernels
import Foundation

/// The vector kernels: the AVX-512 or AVX2 + F16C ones of CKernels where this CPU has them
/// (checked once, at run time), else the portable Swift ones. All give the same bits.
public enum VectorKernel: String, Sendable, CaseIterable {
    case portable, avx2, avx512

    /// Those this CPU runs, narrowest first.
    public static let available: [VectorKernel] =
        [.portable] + (wd_kernels_v3_available() != 0 ? [.avx2] : []) + (wd_kernels_v4_available() != 0 ? [.avx512] : [])

    /// The one compare uses: the widest available; `WEIGHTDRIFT_KERNEL=portable` (or `avx2`) in
    /// the environment forces a narrower one.
    public static let chosen: VectorKernel =
        ProcessInfo.processInfo.environment["WEIGHTDRIFT_KERNEL"].flatMap(VectorKernel.init(rawValue:)).flatMap { available.contains($0) ? $0 : nil }
            ?? available.last ?? .portable

    /// Whether this kernel widens 2-byte floats with F16C and sums them in registers (the AVX2
    /// kernels' widening, which the AVX-512 ones share), and this CPU runs it.
    public var widensInRegisters: Bool { self != .portable && Self.available.contains(self) }
}

/// 2-byte floats widened to float32, exactly: with F16C where the CPU has it, else eight at a
/// time in explicit vectors (the x86-64 baseline has no F16C, and a table lookup per element
/// does not vectorise).
public enum Widening {
    /// `halves` as float32 into `values` (resized to match): bfloat16 is the high half of a
    /// float32; an IEEE half's exponent and mantissa are moved into place and scaled by 2^112
    /// (the bias difference), which is exact for normal and subnormal halves alike, and
    /// infinities and NaNs (payload kept) get the float32 all-ones exponent.
    public static func widen(_ halves: [UInt16], bfloat16: Bool, into values: inout [Float],
                             kernel: VectorKernel = .chosen) {
        if values.count != halves.count {  // every element is written below
            values.removeAll(keepingCapacity: true)
            values.append(contentsOf: repeatElement(0, count: halves.count))
        }
        if kernel.widensInRegisters {
            halves.withUnsafeBufferPointer { source in
                values.withUnsafeMutableBytes { target in
                    guard let from = source.baseAddress, let to = target.baseAddress else { return }
                    wd_widen16_v3(from, to.assumingMemoryBound(to: UInt32.self), halves.count, bfloat16 ? 1 : 0)
                }
            }
            return
        }
        halves.withUnsafeBytes { source in
            values.withUnsafeMutableBytes { target in
                guard let from = source.baseAddress, let to = target.baseAddress else { return }
                var i = 0
                while i + 8 <= halves.count {
                    let h = SIMD8<UInt32>(truncatingIfNeeded: from.loadUnaligned(fromByteOffset: 2 &* i, as: SIMD8<UInt16>.self))
                    let bits = bfloat16 ? h &<< 16 : half(h)
                    to.storeBytes(of: bits, toByteOffset: 4 &* i, as: SIMD8<UInt32>.self)
                    i &+= 8
                }
                while i < halves.count {
                    let h = UInt32(halves[i])
                    to.storeBytes(of: bfloat16 ? h << 16 : half(SIMD8(repeating: h))[0], toByteOffset: 4 &* i, as: UInt32.self)
                    i &+= 1
                }
            }
        }
    }

    @inline(__always)
    static func half(_ h: SIMD8<UInt32>) -> SIMD8<UInt32> {
        let magnitude = (h & 0x7FFF) &<< 13
        let scaled = unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<Float>.self) * 0x1p112, to: SIMD8<UInt32>.self)
        // Vector against vector: the comparison with a scalar is not vectorised.
        let exponent = SIMD8<UInt32>(repeating: 0x7C00)
        let special = scaled.replacing(with: magnitude | 0x7F80_0000, where: h & exponent .== exponent)
        return special | ((h & 0x8000) &<< 16)
    }
}
