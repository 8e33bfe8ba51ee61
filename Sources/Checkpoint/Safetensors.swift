import Foundation
import HDF5

/// The safetensors format: an 8-byte little-endian header size N, N bytes of JSON (an object
/// mapping each tensor name to its `dtype`, `shape` and `data_offsets` [begin, end) relative to
/// the end of the header, plus an optional `__metadata__` string map), then the tensors' bytes,
/// little-endian, row-major. The header is checked as the format's own loader checks it (the
/// `safetensors` crate's `SafeTensors::read_metadata` and `Metadata::validate`): a header of at
/// most 100,000,000 bytes, valid UTF-8 JSON, every tensor's byte range in order from 0 with no
/// gap or overlap and ending exactly where the file does, its size dtype width × shape product
/// (without overflow); here also no name twice.
enum Safetensors {
    /// The crate's `MAX_HEADER_SIZE`.
    static let headerLimit: UInt64 = 100_000_000
    /// Tensors read per file, as names per HDF5 file (`nameListLimit`): the largest real checkpoints
    /// hold a few thousand per file.
    static let tensorLimit = nameListLimit

    static let dtypes: [String: DType] = [
        "F16": .float16, "BF16": .bfloat16, "F32": .float32, "F64": .float64,
        "I8": .int8, "I16": .int16, "I32": .int32, "I64": .int64,
        "U8": .uint8, "U16": .uint16, "U32": .uint32, "U64": .uint64,
    ]
    /// Types the format defines that are not read here (booleans, 8-bit and smaller floats, complex).
    static let unreadDtypes: Set<String> = ["BOOL", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"]

    struct Tensor {
        let name: String
        let dtype: DType
        let shape: [Int]
        /// Absolute byte range in the file.
        let range: Range<UInt64>
    }

    struct Header {
        /// In stored (byte) order.
        let tensors: [Tensor]
        let metadata: [String: String]?
    }

    /// The first bytes of a safetensors file: a header size, then JSON (an object; an array is
    /// recognised to be refused as a header that is not one).
    static func looksLike(_ head: Data) -> Bool {
        head.count >= 9 && head.le64(0) >= 2 && [UInt8(ascii: "{"), UInt8(ascii: "[")].contains(head[head.startIndex + 8])
    }

    /// The file a folder written by Hugging Face's `save_pretrained` is read through:
    /// `model.safetensors.index.json`, else `model.safetensors`, else a TF model's sharded
    /// `tf_model.h5.index.json` or its `tf_model.h5` (Keras `save_weights` HDF5); nil for any
    /// other folder (and for an unzipped `.keras`, which has `model.weights.h5`).
    static func folderEntry(_ probe: Probe) -> String? {
        guard probe.isDirectory else { return nil }
        let present = { (name: String) in
            let path = (probe.path as NSString).appendingPathComponent(name)
            return isPresent(path)
        }
        if present("model.weights.h5") { return nil }
        return ["model.safetensors.index.json", "model.safetensors", "tf_model.h5.index.json", "tf_model.h5"].first(where: present)
    }

    /// Reads and checks the header of the file at `path`; errors name `path` and the tensor.
    static func readHeader(_ file: ByteFile, size: UInt64) throws -> Header {
        let path = file.path
        func corrupt(_ object: String?, _ message: String) -> CheckpointError {
            CheckpointError(.corrupt, file: path, object: object, message: message)
        }
        var sizeBytes: [UInt8] = []
        guard size >= 8, file.read(8, at: 0, into: &sizeBytes) else {
            throw corrupt(nil, "shorter than the 8-byte safetensors header size")
        }
        let length = Data(sizeBytes).le64(0)
        guard length <= headerLimit else {
            throw corrupt(nil, "safetensors header size \(length) is over the \(headerLimit)-byte limit of the format's loader")
        }
        guard length <= size - 8 else {
            throw corrupt(nil, "safetensors header of \(length) bytes runs past the end of the file (\(size) bytes): truncated?")
        }
        var headerBytes: [UInt8] = []
        guard file.read(Int(length), at: 8, into: &headerBytes) else { throw corrupt(nil, "cannot read the safetensors header") }
        guard String(validating: headerBytes, as: UTF8.self) != nil else {
            throw corrupt(nil, "safetensors header is not valid UTF-8")
        }
        // Counted before the JSON is parsed: a million tiny entries would take gigabytes as objects.
        let keys = topLevelKeys(headerBytes)
        if let repeated = keys.repeated { throw corrupt(repeated, "named twice in the safetensors header") }
        guard keys.count <= tensorLimit else {
            throw CheckpointError(.unsupported, file: path, object: nil,
                                  message: "safetensors header lists \(keys.count) tensors, more than the \(tensorLimit) read per file")
        }
        guard let json = JSONValue.parse(Data(headerBytes)) else { throw corrupt(nil, "safetensors header is not valid JSON") }
        headerBytes = []
        guard case .object(let entries) = json else { throw corrupt(nil, "safetensors header is not a JSON object") }
        var metadata: [String: String]?
        if let value = entries["__metadata__"], value != .null {
            let strings = value.object?.compactMapValues(\.string)
            guard let strings, strings.count == value.object?.count else {
                throw corrupt("__metadata__", "safetensors __metadata__ is not a map of strings to strings")
            }
            metadata = strings
        }
        let dataStart = 8 + length
        var tensors: [Tensor] = []
        for (name, entry) in entries.sorted(by: { $0.key < $1.key }) where name != "__metadata__" {
            tensors.append(try tensor(name, entry, path: path, dataStart: dataStart, fileSize: size))
        }
        tensors.sort { ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name) }
        var end = dataStart
        for (index, tensor) in tensors.enumerated() {
            if tensor.range.lowerBound > end {
                throw corrupt(tensor.name, "bytes \(end - dataStart)..<\(tensor.range.lowerBound - dataStart) before it belong to no tensor (a gap in the data)")
            }
            if tensor.range.lowerBound < end {
                throw corrupt(tensor.name, "its bytes overlap those of '\(tensors[index - 1].name)'")
            }
            end = tensor.range.upperBound
        }
        if end != size {
            throw corrupt(tensors.last?.name, "\(size - end) bytes after \(tensors.isEmpty ? "the header" : "its data, the last tensor's,") belong to no tensor")
        }
        return Header(tensors: tensors, metadata: metadata)
    }

    private static func tensor(_ name: String, _ entry: JSONValue, path: String, dataStart: UInt64, fileSize: UInt64) throws -> Tensor {
        func corrupt(_ object: String, _ message: String) -> CheckpointError {
            CheckpointError(.corrupt, file: path, object: object, message: message)
        }
        /// A JSON number that is a whole, non-negative, exactly held integer.
        func count(_ value: JSONValue?) -> UInt64? {
            guard let number = value?.number, number >= 0, number <= 9_007_199_254_740_992, number.rounded() == number else { return nil }
            return UInt64(number)
        }
        guard entry.object != nil else { throw corrupt(name, "its safetensors header entry is not an object") }
        guard let dtypeName = entry["dtype"]?.string else { throw corrupt(name, "no string dtype in the safetensors header") }
        guard let dtype = dtypes[dtypeName] else {
            if unreadDtypes.contains(dtypeName) {
                throw CheckpointError(.unsupported, file: path, object: name,
                                      message: "unsupported dtype \(dtypeName) (read: F16, BF16, F32, F64, I8–I64, U8–U64)")
            }
            throw corrupt(name, "unknown safetensors dtype '\(dtypeName)'")
        }
        guard let dimensions = entry["shape"]?.array, dimensions.count <= 32 else {
            throw corrupt(name, "no shape list (of at most 32 dimensions) in the safetensors header")
        }
        var shape: [Int] = []
        var bytes = UInt64(dtype.byteWidth)
        for dimension in dimensions {
            guard let extent = count(dimension) else {
                throw corrupt(name, "shape [\(dimensions.map(Self.text).joined(separator: ", "))] is not a list of sizes (whole numbers up to 2^53)")
            }
            let (product, overflow) = bytes.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= UInt64(Int.max) else { throw corrupt(name, "shape \(dimensions.compactMap(\.number).map { Int($0) }) overflows") }
            bytes = product
            shape.append(Int(extent))
        }
        guard let offsets = entry["data_offsets"]?.array, offsets.count == 2, let begin = count(offsets[0]), let end = count(offsets[1]) else {
            throw corrupt(name, "data_offsets is not a pair of byte offsets")
        }
        guard begin <= end else { throw corrupt(name, "data_offsets [\(begin), \(end)] end before they begin") }
        guard end <= fileSize - dataStart else {
            throw corrupt(name, "data_offsets [\(begin), \(end)] run past the end of the file (\(fileSize - dataStart) data bytes): truncated?")
        }
        guard end - begin == bytes else {
            throw corrupt(name, "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but \(dtypeName) × shape \(shape) is \(bytes)")
        }
        return Tensor(name: name, dtype: dtype, shape: shape, range: (dataStart + begin)..<(dataStart + end))
    }

    /// A header value as it would read in the file (numbers without an exponent where whole).
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .number(let number): number.rounded() == number && abs(number) < 1e21 ? String(format: "%.0f", number) : "\(number)"
        case .string(let string): "\"\(string)\""
        case .bool(let flag): "\(flag)"
        case .null: "null"
        case .array, .object: "…"
        }
    }

    /// The top-level keys of a JSON object text: how many besides `__metadata__`, and the first that occurs twice
    /// (the JSON reader, like Python, keeps the last silently). Scans strings and nesting only, over the bytes;
    /// a key is decoded as JSON only where it holds an escape. The text is already valid UTF-8.
    static func topLevelKeys(_ bytes: [UInt8]) -> (count: Int, repeated: String?) {
        var seen = Set<String>()
        var depth = 0
        var index = 0
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        while index < bytes.count {
            let byte = bytes[index]
            if byte == quote {
                var end = index + 1
                var escaped = false
                while end < bytes.count, bytes[end] != quote {
                    if bytes[end] == backslash { end += 1; escaped = true }
                    end += 1
                }
                end = min(end + 1, bytes.count)
                if depth == 1 {
                    var next = end
                    while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                    if next < bytes.count, bytes[next] == UInt8(ascii: ":") {
                        let raw = bytes[index..<end]
                        let key = escaped ? JSONValue.parse(Data(raw))?.string : String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                        if let key, !seen.insert(key).inserted { return (seen.count, key) }
                    }
                }
                index = end
                continue
            }
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
            if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") { depth -= 1 }
            index += 1
        }
        return (seen.count - (seen.contains("__metadata__") ? 1 : 0), nil)
    }

    /// A tensor name as a layer (its module path) and a weight: split at the last `/` (Keras
    /// variable paths, `dense/kernel`) or else the last `.` (`model.layers.3.mlp.up_proj.weight`).
    /// A name with neither is a layer of one weight of the same name. TensorFlow's variable
    /// suffix goes, as it does in HDF5 files (`bert/embeddings/LayerNorm/beta:0`, from a
    /// Hugging Face TF model's `save_pretrained(safe_serialization=True)`, is weight `beta`).
    static func split(_ name: String) -> (layer: String, weight: String) {
        guard let cut = name.lastIndex(of: "/") ?? name.lastIndex(of: "."),
              cut != name.startIndex, name.index(after: cut) != name.endIndex else { return (name, name) }
        let weight = String(name[name.index(after: cut)...])
        return (String(name[..<cut]), name[cut] == "/" ? KerasNames.shortWeightName(weight) : weight)
    }

    /// Layers from tensors (each with its file), by module path in natural order (`layers.10`
    /// after `layers.9`); weights in stored order.
    static func contents(_ tensors: [(Tensor, ByteFile)], metadata: [String: String]?) -> Checkpoint.Contents {
        var weights: [String: [Weight]] = [:]
        for (tensor, file) in tensors {
            let (layer, name) = split(tensor.name)
            let source = SafetensorsTensor(file: file, shape: tensor.shape, dtype: tensor.dtype, name: tensor.name,
                                           byteRange: TensorByteRange(path: file.path, offset: tensor.range.lowerBound,
                                                                      length: tensor.range.upperBound - tensor.range.lowerBound))
            weights[layer, default: []].append(Weight(name: name, storedName: tensor.name, path: tensor.name, tensor: source))
        }
        // Two tensors whose names differ only in that suffix keep their stored names.
        for (layer, list) in weights where Set(list.map(\.name)).count < list.count {
            weights[layer] = list.map { weight in
                Weight(name: String(weight.path.split(separator: "/").last ?? Substring(weight.name)),
                       storedName: weight.storedName, path: weight.path, tensor: weight.tensor)
            }
        }
        var contents = Checkpoint.Contents()
        contents.layers = weights.keys.sorted(by: KerasNames.naturalLess).map { Layer(name: $0, path: $0, weights: weights[$0]!) }
        contents.layerOrder = "path"
        contents.metadata = metadata
        return contents
    }

    /// Opens one file and checks its header.
    static func open(_ path: String, reportedAs display: String, object: String? = nil) throws -> (Header, ByteFile) {
        guard let file = ByteFile(path: path) else {
            throw CheckpointError(.cannotOpen, file: display, object: object, message: "cannot open for reading (permission denied?)")
        }
        // The size of what a symbolic link (which the caller has vetted) leads to, not of the link.
        let size = FileStatus(path: path)?.size ?? 0
        return (try readHeader(file, size: size), file)
    }
}

extension Checkpoint {
    /// A single `.safetensors` file.
    static func openSafetensors(_ path: String) throws -> Checkpoint {
        let (header, file) = try Safetensors.open(path, reportedAs: path)
        return Checkpoint(path: path, format: .safetensors,
                          contents: Safetensors.contents(header.tensors.map { ($0, file) }, metadata: header.metadata))
    }

    /// `model.safetensors.index.json`: its `weight_map` names each tensor's shard, a file in the
    /// index's folder. Every tensor the index lists must be in that shard, and no tensor in two.
    static func openSafetensorsShards(_ path: String, weightMap: [String: JSONValue], shards: [(name: String, path: String)]) throws -> Checkpoint {
        var tensors: [(Safetensors.Tensor, ByteFile)] = []
        var shardOf: [String: String] = [:]
        var metadata: [String: String]?
        for shard in shards {
            let (header, file) = try Safetensors.open(shard.path, reportedAs: shard.path)
            metadata = metadata ?? header.metadata
            for tensor in header.tensors {
                if let other = shardOf.updateValue(shard.name, forKey: tensor.name) {
                    throw CheckpointError(.corrupt, file: path, object: tensor.name, message: "tensor is in two shards, \(other) and \(shard.name)")
                }
                tensors.append((tensor, file))
            }
        }
        for (name, shard) in weightMap.sorted(by: { $0.key < $1.key }) where shardOf[name] != shard.string {
            throw CheckpointError(.corrupt, file: path, object: name,
                                  message: "the index places it in \(shard.string ?? "?"), but \(shardOf[name].map { "it is in \($0)" } ?? "no shard the index lists holds it")")
        }
        var contents = Safetensors.contents(tensors, metadata: metadata)
        contents.notes.append("\(shards.count) shards")
        return Checkpoint(path: path, format: .safetensorsSharded, contents: contents)
    }
}

/// A tensor's bytes in a safetensors file.
struct SafetensorsTensor: TensorSource {
    let file: ByteFile
    let shape: [Int]
    let dtype: DType
    let name: String
    let byteRange: TensorByteRange?

    func open() throws -> any TensorValues {
        ByteRangeValues(file: file, offset: byteRange?.offset ?? 0, dtype: dtype, object: name)
    }
}

/// Reads slices of a contiguous little-endian tensor with `pread`: straight into the caller's
/// buffer where the stored type is the one asked for, else through a reused buffer of the
/// stored type, widened.
final class ByteRangeValues: TensorValues {
    let file: ByteFile
    let offset: UInt64
    let dtype: DType
    let object: String
    private var floats: [Float] = []
    private var halves: [UInt16] = []

    init(file: ByteFile, offset: UInt64, dtype: DType, object: String) {
        self.file = file
        self.offset = offset
        self.dtype = dtype
        self.object = object
    }

    private func load<T: BitwiseCopyable & Numeric>(_ slice: TensorSlice, into buffer: inout [T]) throws {
        let width = UInt64(MemoryLayout<T>.stride)
        guard file.read(slice.elements.count, at: offset + UInt64(slice.elements.lowerBound) * width, into: &buffer) else {
            throw CheckpointError(.corrupt, file: file.path, object: object, message: "data ends before the tensor does (file truncated while open?)")
        }
    }

    private func widen<T: BitwiseCopyable & BinaryInteger>(_: T.Type, _ slice: TensorSlice, into buffer: inout [Double]) throws {
        var stored: [T] = []
        try load(slice, into: &stored)
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: stored.lazy.map { Double($0) })
    }

    func read(_ slice: TensorSlice, into buffer: inout [Float]) throws {
        if dtype == .float32 { return try load(slice, into: &buffer) }
        var values: [Double] = []
        try read(slice, into: &values)
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: values.lazy.map { Float($0) })
    }

    func read(_ slice: TensorSlice, into buffer: inout [Double]) throws {
        switch dtype {
        case .float64: try load(slice, into: &buffer)
        case .float32:
            try load(slice, into: &floats)
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: floats.lazy.map { Double($0) })
        case .float16, .bfloat16:
            try load(slice, into: &halves)
            buffer.removeAll(keepingCapacity: true)
            if dtype == .float16 {
                buffer.append(contentsOf: halves.lazy.map { Double(Float16(bitPattern: $0)) })
            } else {
                buffer.append(contentsOf: halves.lazy.map { Double(Float(bitPattern: UInt32($0) << 16)) })
            }
        case .int8: try widen(Int8.self, slice, into: &buffer)
        case .int16: try widen(Int16.self, slice, into: &buffer)
        case .int32: try widen(Int32.self, slice, into: &buffer)
        case .int64: try widen(Int64.self, slice, into: &buffer)
        case .uint8: try widen(UInt8.self, slice, into: &buffer)
        case .uint16: try widen(UInt16.self, slice, into: &buffer)
        case .uint32: try widen(UInt32.self, slice, into: &buffer)
        case .uint64: try widen(UInt64.self, slice, into: &buffer)
        case .other: throw CheckpointError(.unsupported, file: file.path, object: object, message: "element type is not read")
        }
    }

    func readRaw16(_ slice: TensorSlice, into buffer: inout [UInt16]) throws {
        try load(slice, into: &buffer)
    }

    func readRaw64(_ slice: TensorSlice, into buffer: inout [UInt64]) throws {
        try load(slice, into: &buffer)
    }
}
