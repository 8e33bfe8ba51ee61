import Checkpoint
import Foundation
import SampleFixtures
import Testing

/// safetensors files written by the `safetensors` package (tools/make_safetensors_samples.py) from
/// the Keras samples; expected facts come from the Keras files and `samples/safetensors/truth.json`.
@Suite struct SafetensorsTests {
    static let truth: JSONValue = {
        let url = Samples.directory.appendingPathComponent("safetensors/truth.json")
        guard let data = try? Data(contentsOf: url), let json = JSONValue.parse(data) else {
            fatalError("samples/safetensors/truth.json is missing: run tools/make_safetensors_samples.py")
        }
        return json
    }()

    static let badFiles: [String] = (truth["bad"]?.object?.keys.sorted() ?? [])

    func values(_ checkpoint: Checkpoint, _ weight: Weight) throws -> [Double] {
        var reader = try checkpoint.reader(for: weight)
        return try reader.readAll()
    }

    /// Keras-style names (`dense/kernel`) give the Keras checkpoint's layers and weights, values equal.
    @Test(arguments: [("safetensors/ft_lowlr.safetensors", "safetensors"),
                      ("safetensors/sharded/model.safetensors.index.json", "safetensors-sharded")])
    func holdsTheKerasWeights(_ file: String, _ format: String) throws {
        let keras = try Checkpoint.open(Samples.path("k3/ft_lowlr.keras"))
        let checkpoint = try Checkpoint.open(Samples.path(file))
        #expect(checkpoint.format.rawValue == format)
        #expect(checkpoint.layerOrder == "path")
        #expect(checkpoint.optimizer == nil)
        #expect(checkpoint.layers.map(\.name) == keras.layers.map(\.name).sorted(by: <))
        #expect(checkpoint.totalParameters == keras.totalParameters)
        for layer in keras.layers {
            let stored = try #require(checkpoint.layers.first { $0.name == layer.name })
            #expect(Set(stored.weights.map(\.name)) == Set(layer.weights.map(\.name)))
            for weight in layer.weights {
                let other = try #require(stored.weights.first { $0.name == weight.name })
                #expect(other.shape == weight.shape && other.dtype == weight.dtype && other.trainable == nil)
                #expect(other.path == "\(layer.name)/\(weight.name)")
                #expect(try values(checkpoint, other) == values(keras, weight), "\(other.path)")
            }
        }
    }

    @Test func float16ExportHoldsTheRoundedKerasValuesUnderModulePaths() throws {
        let keras = try Checkpoint.open(Samples.path("k3/ft_lowlr.keras"))
        let half = try Checkpoint.open(Samples.path("safetensors/ft_lowlr_f16.safetensors"))
        #expect(half.layers.map(\.name) == keras.layers.map { "model.\($0.name)" }.sorted(by: <))
        for layer in keras.layers {
            let stored = try #require(half.layers.first { $0.name == "model.\(layer.name)" })
            for weight in layer.weights {
                let other = try #require(stored.weights.first { $0.name == (weight.name == "kernel" ? "weight" : weight.name) })
                #expect(other.dtype == .float16)
                let expected = try values(keras, weight).map { Double(Float16($0)) }
                #expect(try values(half, other) == expected, "\(other.path)")
                var reader = try half.reader(for: other)
                var floats: [Float] = [], read: [Float] = []
                while try reader.next(into: &floats) { read += floats }
                #expect(read == expected.map { Float($0) })
            }
        }
    }

    /// Every dtype read as stored (64-bit integers exactly, through the bits path), the
    /// `__metadata__` map, and layers in natural order (`layers.10` after `layers.9`).
    @Test func everyDtypeMetadataAndNaturalOrder() throws {
        let truth = try #require(Self.truth["dtypes.safetensors"])
        let checkpoint = try Checkpoint.open(Samples.path("safetensors/dtypes.safetensors"))
        #expect(checkpoint.layers.map(\.name) == truth["layers"]?.array?.compactMap(\.string))
        #expect(checkpoint.metadata == truth["metadata"]?.object?.compactMapValues(\.string))
        let tensors = try #require(truth["tensors"]?.object)
        let weights = checkpoint.layers.flatMap(\.weights)
        #expect(weights.count == tensors.count)
        let numpyNames: [String: DType] = ["float16": .float16, "bfloat16": .bfloat16, "float32": .float32, "float64": .float64,
                                           "int8": .int8, "int16": .int16, "int32": .int32, "int64": .int64,
                                           "uint8": .uint8, "uint16": .uint16, "uint32": .uint32, "uint64": .uint64]
        for weight in weights {
            let expected = try #require(tensors[weight.path])
            #expect(weight.dtype == numpyNames[expected["dtype"]?.string ?? ""], "\(weight.path)")
            #expect(weight.shape == expected["shape"]?.array?.compactMap { $0.number.map(Int.init) })
            let range = try #require(weight.tensor.byteRange)
            #expect(range.length == UInt64(weight.count * weight.dtype.byteWidth))
            #expect(range.path == Samples.path("safetensors/dtypes.safetensors"))
            let stored = try #require(expected["values"]?.array)
            var reader = try checkpoint.reader(for: weight)
            if weight.dtype.isWideInteger {
                var widened: [Double] = [], bits: [UInt64] = [], all: [UInt64] = []
                while try reader.next(into: &widened, bits: &bits) { all += bits }
                let exact = stored.compactMap(\.string).map {
                    weight.dtype == .int64 ? UInt64(bitPattern: Int64($0)!) : UInt64($0)!
                }
                #expect(all == exact, "\(weight.path)")
            } else {
                #expect(try reader.readAll() == stored.compactMap(\.number), "\(weight.path)")
            }
        }
        #expect(Set(weights.map(\.dtype)).count == 12)
    }

    /// Every broken header is a one-line exit-2 error naming the file and the tensor.
    @Test(arguments: badFiles)
    func brokenHeaderIsRefusedNamingFileAndTensor(_ file: String) throws {
        #expect(!Self.badFiles.isEmpty)
        let path = Samples.path("safetensors/bad/\(file)")
        let expected = Self.truth["bad"]?[file]?.string
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.open(path) }
        #expect([.corrupt, .unsupported].contains(error.code), "\(error)")
        #expect(error.file == path, "\(error)")
        #expect(error.object == expected, "\(error)")
        #expect(!error.description.contains("\n"))
        if file.contains("dtype"), error.code == .unsupported { #expect(error.message.contains("unsupported dtype")) }
    }

    /// The catalogue the test above runs over is every file in samples/safetensors/bad (a list that
    /// came out empty would make it pass without testing anything).
    @Test func everyBrokenFileIsInTheCatalogue() throws {
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Samples.path("safetensors/bad")).sorted()
        #expect(!Self.badFiles.isEmpty)
        #expect(Self.badFiles.filter { !$0.contains("/") } == onDisk.filter { $0.hasSuffix(".safetensors") })
    }

    /// A header listing more tensors than are read per file is refused from a count taken before
    /// the JSON is parsed (a million tiny entries would take gigabytes as objects).
    @Test func tooManyTensorsAreRefusedBeforeParsing() throws {
        let count = 100_001
        let entries = (0..<count).map { "\"l\($0)/w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}" }
        let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        bytes += header
        let path = try Samples.temporaryDirectory().appendingPathComponent("many.safetensors")
        try Data(bytes).write(to: path)
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.open(path.path) }
        #expect(error.code == .unsupported && error.message.contains("\(count) tensors"), "\(error)")
    }

    @Test func recognisedByContentNotName() throws {
        let folder = try Samples.temporaryDirectory()
        let renamed = folder.appendingPathComponent("weights.h5").path
        try FileManager.default.copyItem(atPath: Samples.path("safetensors/pretrained.safetensors"), toPath: renamed)
        #expect(try Checkpoint.open(renamed).format == .safetensors)
    }

    /// A `save_pretrained` folder is read through its index, or its one `model.safetensors`.
    @Test func huggingFaceFolderIsReadThroughItsIndexOrFile() throws {
        let folder = try Samples.temporaryDirectory().appendingPathComponent("model")
        try FileManager.default.copyItem(atPath: Samples.path("safetensors/sharded"), toPath: folder.path)
        let sharded = try Checkpoint.open(folder.path)
        #expect(sharded.format == .safetensorsSharded)
        #expect(sharded.totalParameters == (try Checkpoint.open(Samples.path("safetensors/ft_lowlr.safetensors")).totalParameters))
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors.index.json"))
        try FileManager.default.copyItem(atPath: Samples.path("safetensors/pretrained.safetensors"),
                                         toPath: folder.appendingPathComponent("model.safetensors").path)
        #expect(try Checkpoint.open(folder.path).format == .safetensors)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        #expect(throws: CheckpointError.self) { try Checkpoint.open(folder.path) }
    }

    /// A shard that is a symbolic link out of the index's folder is refused; inputs are not modified.
    @Test func shardLinkingOutOfTheFolderIsRefused() throws {
        let folder = try Samples.temporaryDirectory()
        let shards = folder.appendingPathComponent("set")
        try FileManager.default.copyItem(atPath: Samples.path("safetensors/sharded"), toPath: shards.path)
        let shard = shards.appendingPathComponent("model-00002-of-00002.safetensors")
        let outside = folder.appendingPathComponent("elsewhere.safetensors")
        try FileManager.default.moveItem(at: shard, to: outside)
        try FileManager.default.createSymbolicLink(at: shard, withDestinationURL: outside)
        let error = try #require(throws: CheckpointError.self) {
            try Checkpoint.open(shards.appendingPathComponent("model.safetensors.index.json").path)
        }
        #expect(error.object == "model-00002-of-00002.safetensors")
        #expect(error.message.contains("symbolic link"))
    }
}

/// The slices every tensor source is read in: in row-major order, within the limit, whatever the
/// shape, and the same for two tensors of one shape.
@Suite struct TensorSliceTests {
    @Test(arguments: [1, 5, 7, 8, 64, 100, 1 << 16])
    func slicesCoverTheTensorInOrderWithinTheLimit(_ limit: Int) throws {
        for shape in [[3, 3, 1, 8], [128, 16], [16], [], [2, 0, 3], [5, 7, 9]] {
            let count = shape.reduce(1, *)
            let tensor = InMemoryTensor(shape: shape, dtype: .float64, values: (0..<count).map(Double.init))
            let values = try tensor.open()
            var pieces: [Double] = [], piece: [Double] = []
            let plan = TensorSlices(shape: shape, maxElements: limit)
            #expect(Array(plan).count == plan.total, "\(shape) at limit \(limit)")
            for slice in plan {
                #expect(slice.elements.count <= limit, "\(shape) \(slice)")
                #expect(slice.elements.count == slice.count.reduce(1, *))
                #expect(slice.elements.lowerBound == zip(slice.start, shape).reduce(0) { $0 * $1.1 + $1.0 })
                try values.read(slice, into: &piece)
                pieces += piece
            }
            #expect(pieces == tensor.values, "\(shape) at limit \(limit)")
        }
    }
}
