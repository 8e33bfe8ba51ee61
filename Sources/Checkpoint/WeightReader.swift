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

    /// Reads the next slice into `values`; false when every value has been read.
    public mutating func next(into values: inout [Double]) throws -> Bool {
        guard let selection = plan.next() else { return false }
        try read(selection, into: &values)
        return true
    }

    /// Reads the next slice of a float32 weight as stored, without widening; false when done.
    public mutating func next(into values: inout [Float]) throws -> Bool {
        precondition(weight.dtype == .float32, "next(into: [Float]) is for float32 weights")
        guard let selection = plan.next() else { return false }
        do {
            try dataset.read(selection, into: &values)
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
