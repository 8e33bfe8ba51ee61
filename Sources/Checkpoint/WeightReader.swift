import HDF5

/// Streams one weight's values in slices of whole rows (indices of the first dimension), widened
/// to Double, so memory is bounded by the slice, not by the tensor. Reuses its buffers.
public struct WeightReader {
    public let weight: Weight
    /// Indices along the first dimension (1 for a scalar).
    public let rowCount: Int
    /// Elements per row.
    public let rowLength: Int
    private let dataset: Dataset
    private let checkpointPath: String
    private var floats: [Float] = []
    private var halves: [UInt16] = []

    init(checkpointPath: String, weight: Weight, dataset: Dataset) throws {
        self.weight = weight
        self.dataset = dataset
        self.checkpointPath = checkpointPath
        rowCount = weight.count == 0 ? 0 : dataset.rowCount
        rowLength = dataset.rowLength
        if weight.dtype == .other {
            throw CheckpointError(.unsupported, file: checkpointPath, object: weight.path,
                                  message: "element type \(dataset.elementType) is not a number type read here")
        }
    }

    /// Rows per slice so that a slice holds about `elements` values (at least one row).
    public func rowsPerSlice(elements: Int) -> Int {
        max(1, elements / max(1, rowLength))
    }

    /// Reads rows `rows` into `values` (resized to rows × rowLength).
    public mutating func read(rows: Range<Int>, into values: inout [Double]) throws {
        do {
            switch weight.dtype {
            case .float32:
                try dataset.read(rows: rows, into: &floats)
                values.removeAll(keepingCapacity: true)
                values.append(contentsOf: floats.lazy.map { Double($0) })
            case .float16:
                try dataset.readRaw16(rows: rows, into: &halves)
                values.removeAll(keepingCapacity: true)
                values.append(contentsOf: halves.lazy.map { Double(Float16(bitPattern: $0)) })
            case .bfloat16:
                try dataset.readRaw16(rows: rows, into: &halves)
                values.removeAll(keepingCapacity: true)
                values.append(contentsOf: halves.lazy.map { Double(Float(bitPattern: UInt32($0) << 16)) })
            default:
                try dataset.read(rows: rows, into: &values)
            }
        } catch let error as HDF5Error {
            throw CheckpointError(error)
        }
    }

    /// All values at once; for small weights and tests.
    public mutating func readAll() throws -> [Double] {
        var values: [Double] = []
        try read(rows: 0..<rowCount, into: &values)
        return values
    }
}
