import Foundation

extension Checkpoint {
    /// Opens two checkpoints at once, each on its own thread: what each reads outside libhdf5
    /// (zip directory, JSON config, the layout) overlaps; libhdf5's own calls still take turns.
    /// When both fail, the base's error is thrown, as when they are opened in turn.
    public static func openPair(base: String, tuned: String) throws -> (base: Checkpoint, tuned: Checkpoint) {
        final class Outcomes: @unchecked Sendable {
            private let lock = NSLock()
            private var results: [Result<Checkpoint, any Error>?] = [nil, nil]

            func set(_ index: Int, _ result: Result<Checkpoint, any Error>) {
                lock.lock()
                results[index] = result
                lock.unlock()
            }

            func get(_ index: Int) throws -> Checkpoint {
                lock.lock()
                defer { lock.unlock() }
                return try results[index]!.get()
            }
        }
        let outcomes = Outcomes()
        let paths = [base, tuned]
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            outcomes.set(index, Result { try Checkpoint.open(paths[index]) })
        }
        return (try outcomes.get(0), try outcomes.get(1))
    }
}
