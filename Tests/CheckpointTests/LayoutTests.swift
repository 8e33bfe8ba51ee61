import Checkpoint
import Foundation
import SampleFixtures
import Testing

/// Every sample, in every layout, reads back exactly as Keras wrote it.
@Suite struct LayoutTests {
    static let filesWithValues = Samples.files.filter { file in
        Samples.manifest.files[file]!.layers.contains { $0.weights.contains { $0.values != nil } }
    }

    /// The argument lists below come from the manifest: it describes every checkpoint the
    /// generator left on disk (a shard set by its index), and some record stored values.
    /// An HDF5 file with a user block (the superblock at byte 512, the file starting with text) is
    /// recognised where libhdf5 finds its superblock and reads exactly as the file it was copied from.
    @Test func hdf5AfterAUserBlockReadsAsItsSource() throws {
        let path = Samples.path("gate/userblock.weights.h5")
        let head = try #require(FileHandle(forReadingAtPath: path)?.readData(ofLength: 8))
        #expect(head != Data([0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]), "the sample must not start with the signature")
        let checkpoint = try Checkpoint.open(path)
        let source = try Checkpoint.open(Samples.path("k3/ft_lowlr.weights.h5"))
        #expect(checkpoint.format == source.format)
        #expect(checkpoint.layers.map(\.name) == source.layers.map(\.name))
        for (layer, original) in zip(checkpoint.layers, source.layers) {
            for (weight, expected) in zip(layer.weights, original.weights) {
                var a = try checkpoint.reader(for: weight), b = try source.reader(for: expected)
                #expect(try a.readAll() == b.readAll(), "\(layer.name)/\(weight.name)")
            }
        }
    }

    @Test func manifestDescribesEverySampleOnDisk() throws {
        var onDisk = try Samples.filesOnDisk(in: "k3/sharded", endingIn: [".weights.json"])
        for folder in ["k3", "k3/series", "tfk", "tf213", "edge"] {
            onDisk += try Samples.filesOnDisk(in: folder, endingIn: [".h5", ".keras"])
        }
        #expect(!Samples.files.isEmpty)
        #expect(Samples.files == onDisk.sorted())
        #expect(!Self.filesWithValues.isEmpty)
    }

    @Test(arguments: Samples.files)
    func layersAndWeightsMatchTheGenerator(_ file: String) throws {
        let truth = try #require(Samples.manifest.files[file])
        let checkpoint = try Checkpoint.open(Samples.path(file))

        #expect(checkpoint.format.rawValue == truth.format)
        #expect(checkpoint.kerasVersion == truth.kerasVersion)
        if let backend = truth.backend { #expect(checkpoint.backend == backend) }

        // The same weights: by dataset path, with name, shape and dtype.
        func key(_ path: String, _ name: String, _ shape: [Int], _ dtype: String) -> String {
            "\(path) \(name) \(shape) \(dtype)"
        }
        let expected = truth.layers.flatMap { $0.weights.map { key($0.path, $0.name, $0.shape, $0.dtype) } }
        let actual = checkpoint.layers.flatMap { $0.weights.map { key($0.path, $0.name, $0.shape, $0.dtype.rawValue) } }
        if checkpoint.layerOrder == "model" {
            #expect(actual == expected)
            #expect(checkpoint.layers.map(\.name) == truth.layers.map(\.name))
        } else {
            #expect(actual.sorted() == expected.sorted())
        }

        // Layer names where the format stores them; class names wherever the reader gives one.
        let truthByPath = Dictionary(truth.layers.flatMap { layer in layer.weights.map { ($0.path, layer) } },
                                     uniquingKeysWith: { a, _ in a })
        for layer in checkpoint.layers {
            let expectedLayer = try #require(truthByPath[layer.weights[0].path])
            if let className = layer.className, let expectedClass = expectedLayer.className {
                #expect(className == expectedClass, "class of \(layer.name)")
            }
            // A .weights.h5 stores layer names only from Keras 3.6 on; before, the label is the path.
            if truth.format != "weights-h5" || truth.framework == "keras3" {
                #expect(layer.name == expectedLayer.name, "name of the layer at \(layer.path)")
            }
            for weight in layer.weights where weight.storedName != nil {
                let expectedWeight = expectedLayer.weights.first { $0.path == weight.path }
                #expect(weight.storedName == expectedWeight?.storedName)
            }
        }

        if let optimizer = truth.optimizer {
            let read = try #require(checkpoint.optimizer, "optimizer of \(file)")
            if let iterations = optimizer.iterations { #expect(read.iterations == Int64(iterations)) }
            if let className = optimizer.className, let readClass = read.className { #expect(readClass == className) }
        }
    }

    @Test(arguments: filesWithValues)
    func floatDTypesDecodeToTheValuesKerasSaved(_ file: String) throws {
        let truth = try #require(Samples.manifest.files[file])
        let checkpoint = try Checkpoint.open(Samples.path(file))
        let weights = Dictionary(uniqueKeysWithValues: checkpoint.layers.flatMap(\.weights).map { ($0.path, $0) })
        var dtypes = Set<String>()
        for expected in truth.layers.flatMap(\.weights) {
            guard let values = expected.values else { continue }
            let weight = try #require(weights[expected.path])
            var reader = try checkpoint.reader(for: weight)
            let read = try reader.readAll()
            #expect(read == values, "\(expected.path) (\(expected.dtype))")
            dtypes.insert(expected.dtype)
        }
        #expect(dtypes.isSuperset(of: ["float16", "float32", "float64"]))
    }

    @Test(arguments: [1, 7, 100, 1 << 16])
    func streamedSlicesEqualOneWholeRead(_ sliceElements: Int) throws {
        let checkpoint = try Checkpoint.open(Samples.path("k3/pretrained.keras"))
        for weight in checkpoint.layers.flatMap(\.weights) {
            var whole = try checkpoint.reader(for: weight)
            let values = try whole.readAll()
            var reader = try checkpoint.reader(for: weight, sliceElements: sliceElements)
            var pieces: [Double] = [], slice: [Double] = []
            while try reader.next(into: &slice) {
                #expect(slice.count <= sliceElements)
                pieces += slice
            }
            #expect(values.count == weight.count)
            #expect(pieces == values, "\(weight.path)")
        }
    }

    @Test func chunkedLayerNamesAreReassembled() throws {
        let file = try #require(Samples.files.first { $0.contains("chunked") })
        let truth = try #require(Samples.manifest.files[file])
        let checkpoint = try Checkpoint.open(Samples.path(file))
        #expect(checkpoint.layers.map(\.name) == truth.layers.map(\.name))
        #expect((truth.layerNameCount ?? 0) >= checkpoint.layers.count)
    }

    /// h5repack's shuffle + deflate, and h5py's LZF (some chunks compressed, some stored as they are).
    @Test(arguments: ["edge/repacked_gzip.h5", "edge/repacked_lzf.h5"])
    func recompressedCopyReadsTheSameValues(_ copy: String) throws {
        let original = try Checkpoint.open(Samples.path("tfk/pretrained.h5"))
        let repacked = try Checkpoint.open(Samples.path(copy))
        #expect(repacked.layers == original.layers.map { $0 })
        for (a, b) in zip(original.layers.flatMap(\.weights), repacked.layers.flatMap(\.weights)) {
            var ra = try original.reader(for: a), rb = try repacked.reader(for: b)
            #expect(try ra.readAll() == rb.readAll())
        }
    }

    @Test func keepsTheOptimizerApartFromTheModel() throws {
        let checkpoint = try Checkpoint.open(Samples.path("tfk/pretrained.h5"))
        #expect(!checkpoint.layers.contains { $0.path.contains("optimizer") })
        let optimizer = try #require(checkpoint.optimizer)
        #expect(optimizer.variableCount > 0)
        #expect((optimizer.iterations ?? 0) > 0)
    }
}

/// Where a weight's stored bytes start (`storedAt`, used to stream weights in file order) is
/// where its values are: read there straight from the file, they are what the reader gives.
@Suite struct StoredOffsetTests {
    static let contiguous = ["tfk/pretrained.h5", "k3/pretrained.weights.h5", "k3/pretrained.keras", "safetensors/pretrained.safetensors"]

    @Test(arguments: contiguous)
    func storedOffsetHoldsTheValues(_ file: String) throws {
        let checkpoint = try Checkpoint.open(Samples.path(file))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Samples.path(file)))
        var checked = 0
        for weight in checkpoint.layers.flatMap(\.weights) where weight.dtype == .float32 {
            let at = try #require(weight.tensor.storedAt, "\(weight.path) is stored contiguous")
            #expect(at.path == Samples.path(file))
            let start = Int(at.offset), end = start + 4 * weight.count
            try #require(end <= bytes.count, "\(weight.path): offset \(start) past the file's end")
            let stored = bytes[start..<end].withUnsafeBytes { raw in (0..<weight.count).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
            var reader = try checkpoint.reader(for: weight)
            #expect(try reader.readAll() == stored.map(Double.init), "\(weight.path)")
            checked += 1
        }
        #expect(checked >= 4)
    }

    /// A chunked dataset has no one offset: such a file is streamed largest first.
    @Test func chunkedWeightsHaveNoStoredOffset() throws {
        let checkpoint = try Checkpoint.open(Samples.path("edge/repacked_lzf.h5"))
        let weights = checkpoint.layers.flatMap(\.weights)
        #expect(!weights.isEmpty)
        #expect(weights.allSatisfy { $0.tensor.storedAt == nil })
    }
}
