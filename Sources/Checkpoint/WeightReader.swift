import HDF5

/// Streams one weight's values in slices of at most `sliceElements` values, widened to Double,
/// so memory is bounded by the slice, not by the tensor, whatever its shape. Two readers of
/// weights with the same shape and slice size produce aligned slices. Reuses its buffers.
public struct WeightReader {
    public let weight: Weight
    private let dataset: Dataset
    private var plan: Dataset.Slices
    private var floats: [Float] = []
    private var halves: [UInt16] = []

    init(weight: Weight, dataset: Dataset, sliceElements: Int, checkpointPath: String) throws {
        self.weight = weight
        self.dataset = dataset
        if weight.dtype == .other {
            throw CheckpointError(.unsupported, file: checkpointPath, object: weight.path,
                                  message: "element type \(dataset.elementType) is not a number type read here")
        }
        // A declared shape far beyond the stored bytes would have libhdf5 produce fill values for
        // hours: no real weight compresses a thousandfold, and none is stored as nothing at all.
        let stored = try hdf5 { try dataset.storedBytes }
        if weight.count > 0 && stored == 0 {
            throw CheckpointError(.corrupt, file: checkpointPath, object: weight.path,
                                  message: "no values are stored for its declared shape \(dataset.shape)")
        }
        let unstored = try hdf5 { try dataset.unstoredBytes }
        if unstored > 16 << 20 {
            throw CheckpointError(.corrupt, file: checkpointPath, object: weight.path,
                                  message: "declares shape \(dataset.shape) (\(dataset.logicalBytes) bytes) but \(unstored) bytes of it are not stored (fill value only); Keras writes every value")
        }
        if dataset.logicalBytes > 1 << 30 && dataset.logicalBytes / 1024 > stored {
            throw CheckpointError(.corrupt, file: checkpointPath, object: weight.path,
                                  message: "declares shape \(dataset.shape) (\(dataset.logicalBytes) bytes) but stores only \(stored) bytes")
        }
        plan = dataset.slices(maxElements: max(1, sliceElements))
    }

    /// How many slices the weight is read in.
    public var sliceCount: Int { plan.total }

    /// Passes over the next `count` slices without reading them: a part of a large weight that
    /// another thread reads.
    public mutating func skip(slices count: Int) {
        for _ in 0..<max(0, count) where plan.next() == nil { return }
    }

    /// Reads the next slice into `values`; false when every value has been read.
    public mutating func next(into values: inout [Double]) throws -> Bool {
        guard let selection = plan.next() else { return false }
        try read(selection, into: &values)
        return true
    }

    /// For 64-bit integer weights (values above 2^53 are not exact as Double): reads the next
    /// slice once, as stored bits, and widens them to `values`; false when done.
    public mutating func next(into values: inout [Double], bits: inout [UInt64]) throws -> Bool {
        precondition(weight.dtype.isWideInteger, "next(into:bits:) is for int64 and uint64 weights")
        guard let selection = plan.next() else { return false }
        do {
            try dataset.readRaw64(selection, into: &bits)
        } catch let error as HDF5Error {
            throw CheckpointError(error)
        }
        values.removeAll(keepingCapacity: true)
        if weight.dtype == .int64 {
            values.append(contentsOf: bits.lazy.map { Double(Int64(bitPattern: $0)) })
        } else {
            values.append(contentsOf: bits.lazy.map { Double($0) })
        }
        return true
    }

    /// Whether `next(into: [Float])` reads this weight: float32 as stored, float16 and bfloat16
    /// widened (exactly) to float32.
    public var readsAsFloat: Bool { [.float32, .float16, .bfloat16].contains(weight.dtype) }

    /// Reads the next slice as float32 (see `readsAsFloat`); false when done.
    public mutating func next(into values: inout [Float]) throws -> Bool {
        precondition(readsAsFloat, "next(into: [Float]) is for float32, float16 and bfloat16 weights")
        guard let selection = plan.next() else { return false }
        do {
            switch weight.dtype {
            case .float32:
                try dataset.read(selection, into: &values)
            default:  // float16 or bfloat16, widened exactly
                try dataset.readRaw16(selection, into: &halves)
                Widening.widen(halves, bfloat16: weight.dtype == .bfloat16, into: &values)
            }
        } catch let error as HDF5Error {
            throw CheckpointError(error)
        }
        return true
    }

    /// All values at once; for small weights and tests.
    public mutating func readAll() throws -> [Double] {
        var values: [Double] = []
        if weight.count > 0 { try read(dataset.all, into: &values) }
        return values
    }

    private mutating func read(_ selection: Dataset.Selection, into values: inout [Double]) throws {
        do {
            switch weight.dtype {
            case .float32:
                try dataset.read(selection, into: &floats)
                values.removeAll(keepingCapacity: true)
                values.append(contentsOf: floats.lazy.map { Double($0) })
            case .float16:
                try dataset.readRaw16(selection, into: &halves)
                values.removeAll(keepingCapacity: true)
                values.append(contentsOf: halves.lazy.map { Double(Float16(bitPattern: $0)) })
            case .bfloat16:
                try dataset.readRaw16(selection, into: &halves)
                values.removeAll(keepingCapacity: true)
                values.append(contentsOf: halves.lazy.map { Double(Float(bitPattern: UInt32($0) << 16)) })
            default:
                try dataset.read(selection, into: &values)
            }
        } catch let error as HDF5Error {
            throw CheckpointError(error)
        }
    }
}
