import Foundation

extension Checkpoint {
    /// Opens two checkpoints, the base first (so its error is the one thrown when both fail).
    ///
    /// One after the other, not on two threads: libhdf5's calls take turns at its global lock
    /// anyway, and two threads listing at once mostly hand that lock back and forth — measured on
    /// the benchmark's pairs: two 1,600-layer `.weights.h5` files 0.86 → 0.71 s (CPU 0.95 →
    /// 0.67 s), the 1× `.keras` pair 112 → 102 ms, the 1× `.h5` pair 120 → 123 ms (CPU 221 → 189
    /// ms). What a `.keras` file reads outside libhdf5 (its JSON config) is still parsed on
    /// another thread while libhdf5 walks its weights.
    public static func openPair(base: String, tuned: String) throws -> (base: Checkpoint, tuned: Checkpoint) {
        let base = try Checkpoint.open(base)
        return (base, try Checkpoint.open(tuned))
    }
}
