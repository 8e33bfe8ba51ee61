import Checkpoint
import Foundation
import SampleFixtures
import Testing

/// `compare` prints the same bytes whichever vector kernel ran (the widest this CPU has by
/// default; WEIGHTDRIFT_KERNEL=avx2 or =portable forces a narrower one), on every pair the float64
/// oracle checks and on the float16/bfloat16 pairs. Only where this CPU runs the AVX2 kernel:
/// elsewhere every run takes the portable one and the comparison could not fail.
@Suite(.enabled(if: VectorKernel.available.contains(.avx2))) struct KernelCLITests {
    static let extraPairs = [("samples/edge/dtypes_k3.h5", "samples/edge/dtypes_tfk.h5"),
                             ("samples/safetensors/pretrained.safetensors", "samples/safetensors/ft_lowlr.safetensors")]

    @Test func everyOraclePairGivesTheSameReportWithEitherKernel() throws {
        let pairs = try Samples.oraclePairs().map { ("samples/\($0.base)", "samples/\($0.tuned)") } + Self.extraPairs
        #expect(pairs.count > Self.extraPairs.count)
        for (base, tuned) in pairs {
            for format in ["json", "table"] {
                let chosen = try CLI.run(["compare", base, tuned, "--format", format])
                #expect([0, 1].contains(chosen.status), "\(base) \(tuned): \(chosen.stderr)")
                #expect(!chosen.stdout.isEmpty)
                for kernel in VectorKernel.available.dropLast() {
                    let forced = try CLI.run(["compare", base, tuned, "--format", format], environment: ["WEIGHTDRIFT_KERNEL": kernel.rawValue])
                    #expect(chosen.status == forced.status, "\(base) \(tuned) \(kernel): \(forced.stderr)")
                    #expect(chosen.stdout == forced.stdout, "\(base) \(tuned) \(format) \(kernel)")
                }
            }
        }
    }
}
