/// Streams one weight's values in slices of at most `sliceElements` values, widened to Double,
/// so memory is bounded by the slice, not by the tensor, whatever its shape. Two readers of
/// weights with the same shape and slice size produce aligned slices. Reuses its buffers.
public struct WeightReader {
    public let weight: Weight
    private let stored: any TensorValues
    private var plan: TensorSlices
    private var floats: [Float] = []
    private var halves: [UInt16] = []

    init(weight: Weight, sliceElements: Int) throws {
        self.weight = weight
        stored = try weight.tensor.open()
        // An HDF5 empty dataspace has no shape and no values.
        plan = TensorSlices(shape: weight.count == 0 ? [0] : weight.shape, maxElements: sliceElements)
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
        try stored.readRaw64(selection, into: &bits)
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
        switch weight.dtype {
        case .float32:
            try stored.read(selection, into: &values)
        default:  // float16 or bfloat16, widened exactly
            try stored.readRaw16(selection, into: &halves)
            Widening.widen(halves, bfloat16: weight.dtype == .bfloat16, into: &values)
        }
        return true
    }

    /// Whether `next(into: [UInt16])` reads this weight: float16 and bfloat16, as stored.
    public var readsAsHalves: Bool { weight.dtype == .float16 || weight.dtype == .bfloat16 }

    /// Reads the next slice of a float16 or bfloat16 weight as its stored 16-bit words, for a
    /// kernel that widens them itself; false when done.
    public mutating func next(into words: inout [UInt16]) throws -> Bool {
        precondition(readsAsHalves, "next(into: [UInt16]) is for float16 and bfloat16 weights")
        guard let selection = plan.next() else { return false }
        try stored.readRaw16(selection, into: &words)
        return true
    }

    /// All values at once; for small weights and tests.
    public mutating func readAll() throws -> [Double] {
        var values: [Double] = []
        if weight.count > 0 { try read(TensorSlice.all(weight.shape), into: &values) }
        return values
    }

    private mutating func read(_ selection: TensorSlice, into values: inout [Double]) throws {
        switch weight.dtype {
        case .float32:
            try stored.read(selection, into: &floats)
            values.removeAll(keepingCapacity: true)
            values.append(contentsOf: floats.lazy.map { Double($0) })
        case .float16:
            try stored.readRaw16(selection, into: &halves)
            values.removeAll(keepingCapacity: true)
            values.append(contentsOf: halves.lazy.map { Double(Float16(bitPattern: $0)) })
        case .bfloat16:
            try stored.readRaw16(selection, into: &halves)
            values.removeAll(keepingCapacity: true)
            values.append(contentsOf: halves.lazy.map { Double(Float(bitPattern: UInt32($0) << 16)) })
        default:
            try stored.read(selection, into: &values)
        }
    }
}
