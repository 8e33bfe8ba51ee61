/// Where one weight's values are stored: an HDF5 dataset, a byte range of a safetensors file, or
/// an array in memory. A layout reader makes one per weight when it opens a checkpoint (reading
/// metadata only); `WeightReader` opens it to stream the values.
public protocol TensorSource: Sendable {
    /// Dimensions; empty for a scalar.
    var shape: [Int] { get }
    var dtype: DType { get }
    /// Number of elements: the shape's product (1 for a scalar), 0 for HDF5's empty dataspace.
    var count: Int { get }
    /// The stored bytes when they are one contiguous run of a file in little-endian order, the
    /// element type's own layout (safetensors always; HDF5 never says so here): what a reader may
    /// `pread` straight into its buffer.
    var byteRange: TensorByteRange? { get }
    /// The file and offset where the stored bytes start, for reading weights in file order: the
    /// byte range's where there is one, an HDF5 dataset's contiguous storage; nil when not one run.
    var storedAt: (path: String, offset: UInt64)? { get }
    /// Checks what must hold before any value is read (stored size, element type) and gives the
    /// values' reader. Errors name the checkpoint file and the weight.
    func open() throws -> any TensorValues
}

extension TensorSource {
    public var count: Int { shape.reduce(1, *) }
    public var byteRange: TensorByteRange? { nil }
    public var storedAt: (path: String, offset: UInt64)? { byteRange.map { ($0.path, $0.offset) } }
}

/// A contiguous run of a file's bytes.
public struct TensorByteRange: Sendable, Equatable {
    public let path: String
    public let offset: UInt64
    public let length: UInt64

    public init(path: String, offset: UInt64, length: UInt64) {
        self.path = path
        self.offset = offset
        self.length = length
    }
}

/// Reads slices of an opened tensor into caller buffers, each resized to exactly the slice's
/// elements and reused across calls. Only the reads `WeightReader` asks of a dtype are called:
/// Float for float32, raw 16-bit words for float16 and bfloat16, raw 64-bit words for 64-bit
/// integers, Double for every dtype.
public protocol TensorValues {
    func read(_ slice: TensorSlice, into buffer: inout [Float]) throws
    func read(_ slice: TensorSlice, into buffer: inout [Double]) throws
    /// The stored 16-bit words, little-endian, unconverted.
    func readRaw16(_ slice: TensorSlice, into buffer: inout [UInt16]) throws
    /// The stored 64-bit words, little-endian, unconverted.
    func readRaw64(_ slice: TensorSlice, into buffer: inout [UInt64]) throws
}

/// A box of a tensor: `count[d]` indices from `start[d]` in each dimension d (both empty for a
/// scalar). Its elements in row-major order are the flat run `elements` of the tensor.
public struct TensorSlice: Sendable, Equatable {
    public let start: [Int]
    public let count: [Int]
    /// The flat element indices the box covers.
    public let elements: Range<Int>

    /// The whole tensor as one box.
    public static func all(_ shape: [Int]) -> TensorSlice {
        TensorSlice(start: shape.map { _ in 0 }, count: shape, elements: 0..<shape.reduce(1, *))
    }
}

/// Boxes that cover a tensor in row-major order, each of at most `limit` elements (or one
/// element's worth of the last dimension, if that is more): whole trailing dimensions where they
/// fit, otherwise a run along the first dimension whose trailing block fits, the leading indices
/// fixed. Memory for a read is then bounded by `limit`, whatever the tensor's shape, and two
/// tensors of one shape are cut alike whatever stores them. Lazy: the boxes are made as asked for.
public struct TensorSlices: Sequence, IteratorProtocol, Sendable {
    private let shape: [Int]
    private let trailing: [Int]
    private let k: Int
    private let per: Int
    private var prefix: [Int]
    private var j = 0
    private var done: Bool
    /// How many boxes there are in all.
    public let total: Int

    public init(shape: [Int], maxElements limit: Int) {
        let limit = Swift.max(1, limit)
        self.shape = shape
        var trailing = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { trailing[d] = trailing[d + 1] * shape[d + 1] }
        self.trailing = trailing
        k = (0..<shape.count).first { trailing[$0] <= limit } ?? Swift.max(0, shape.count - 1)
        per = shape.isEmpty ? 1 : Swift.max(1, limit / Swift.max(1, trailing[k]))
        prefix = [Int](repeating: 0, count: k)
        done = shape.contains(0)
        total = done ? 0 : shape.isEmpty ? 1 : shape[..<k].reduce(1, *) * ((shape[k] + per - 1) / per)
    }

    public mutating func next() -> TensorSlice? {
        guard !done else { return nil }
        if shape.isEmpty {
            done = true
            return TensorSlice(start: [], count: [], elements: 0..<1)
        }
        let n = Swift.min(per, shape[k] - j)
        let first = zip(prefix, trailing).reduce(0) { $0 + $1.0 * $1.1 } + j * trailing[k]
        let box = TensorSlice(start: prefix + [j] + shape[(k + 1)...].map { _ in 0 },
                              count: prefix.map { _ in 1 } + [n] + shape[(k + 1)...],
                              elements: first..<(first + n * trailing[k]))
        j += n
        if j >= shape[k] {
            j = 0
            // Next index of the leading dimensions (an odometer), or the end.
            var d = k - 1
            while d >= 0 {
                prefix[d] += 1
                if prefix[d] < shape[d] { break }
                prefix[d] = 0
                d -= 1
            }
            if d < 0 { done = true }
        }
        return box
    }
}

/// Values held in memory, for building a `Checkpoint` in tests and tools without a file. Stored as
/// Double; reads give them in `dtype`'s form (float32 rounds, float16/bfloat16 give the rounded
/// value's bits, 64-bit integers their two's-complement bits), so give values `dtype` can hold.
public struct InMemoryTensor: TensorSource, TensorValues {
    public let shape: [Int]
    public let dtype: DType
    public let values: [Double]

    public init(shape: [Int], dtype: DType = .float32, values: [Double]) {
        precondition(values.count == shape.reduce(1, *), "values must fill the shape")
        precondition(dtype != .other, "an in-memory tensor has a number dtype")
        self.shape = shape
        self.dtype = dtype
        self.values = values
    }

    public func open() throws -> any TensorValues { self }

    public func read(_ slice: TensorSlice, into buffer: inout [Float]) throws {
        fill(&buffer, slice) { Float($0) }
    }

    public func read(_ slice: TensorSlice, into buffer: inout [Double]) throws {
        fill(&buffer, slice) { $0 }
    }

    public func readRaw16(_ slice: TensorSlice, into buffer: inout [UInt16]) throws {
        let bfloat = dtype == .bfloat16
        fill(&buffer, slice) { bfloat ? UInt16(Float($0).bitPattern >> 16) : Float16($0).bitPattern }
    }

    public func readRaw64(_ slice: TensorSlice, into buffer: inout [UInt64]) throws {
        let dtype = dtype
        fill(&buffer, slice) {
            switch dtype {
            case .uint64: UInt64($0)
            case .float64: $0.bitPattern
            default: UInt64(bitPattern: Int64($0))
            }
        }
    }

    private func fill<T>(_ buffer: inout [T], _ slice: TensorSlice, _ convert: (Double) -> T) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: values[slice.elements].lazy.map(convert))
    }
}
