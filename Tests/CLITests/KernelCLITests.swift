import Checkpoint
import Foundation
import SampleFixtures
import Testing

/// `compare` prints the same bytes whichever vector kernel ran (the AVX2 one where the CPU has it,
/// the portable one with WEIGHTDRIFT_KERNEL=portable), on every pair the float64 oracle checks and
/// on the float16/bfloat16 pairs. Only where this CPU runs the AVX2 kernel: elsewhere both runs
/// take the portable one and the comparison could not fail.
@Suite(.enabled(if: VectorKernel.available.contains(.avx2))) struct KernelCLITests {
    static let extraPairs = [("samples/edge/dtypes_k3.h5", "samples/edge/dtypes_tfk.h5"),
                             ("samples/safetensors/pretrained.safetensors", "samples/safetensors/ft_lowlr.safetensors")]

    @Test func everyOraclePairGivesTheSameReportWithEitherKernel() throws {
        let pairs = try Samples.oraclePairs().map { ("samples/\($0.base)", "samples/\($0.tuned)") } + Self.extraPairs
        #expect(pairs.count > Self.extraPairs.count)
        for (base, tuned) in pairs {
            for format in ["json", "table"] {
                let chosen = try CLI.run(["compare", base, tuned, "--format", format])
                let portable = try CLI.run(["compare", base, tuned, "--format", format], environment: ["WEIGHTDRIFT_KERNEL": "portable"])
                #expect(chosen.status == portable.status && [0, 1].contains(chosen.status), "\(base) \(tuned): \(chosen.stderr)")
                #expect(chosen.stdout == portable.stdout, "\(base) \(tuned) \(format)")
                #expect(!chosen.stdout.isEmpty)
            }
        }
    }
}
