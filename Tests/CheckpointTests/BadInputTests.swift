import Checkpoint
import Foundation
import SampleFixtures
import Testing

/// Bad input is a typed error naming the file (and the object), never a crash.
@Suite struct BadInputTests {
    func expectError(_ path: String, _ codes: Set<CheckpointError.Code>, object: String? = nil,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let checkpoint = try Checkpoint.open(path)
            // Some damage only shows when the values are read.
            var buffer: [Double] = []
            for weight in checkpoint.layers.flatMap(\.weights) {
                var reader = try checkpoint.reader(for: weight)
                while try reader.next(into: &buffer) {}
            }
            Issue.record("\(path) opened and read without an error", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            #expect(codes.contains(error.code), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix(error.file), sourceLocation: sourceLocation)
            #expect(error.file.hasSuffix((path as NSString).lastPathComponent) || error.file == path,
                    "names the file: \(error)", sourceLocation: sourceLocation)
            if let object { #expect(error.object?.contains(object) == true, "names \(object): \(error)", sourceLocation: sourceLocation) }
            #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("untyped error \(error)", sourceLocation: sourceLocation)
        }
    }

    func write(_ data: Data, named name: String) throws -> String {
        let url = try Samples.temporaryDirectory().appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    @Test func missingFile() {
        expectError("/nonexistent/weights.h5", [.notFound])
    }

    @Test func directoryThatIsNotAnUnzippedModel() throws {
        expectError(try Samples.temporaryDirectory().path, [.notACheckpoint])
    }

    @Test func emptyFile() throws {
        expectError(try write(Data(), named: "empty.h5"), [.notACheckpoint])
    }

    @Test func textFile() throws {
        expectError(try write(Data("these are not weights\n".utf8), named: "notes.h5"), [.notACheckpoint])
    }

    @Test(arguments: [0.02, 0.3, 0.6, 0.95])
    func truncatedHDF5(_ fraction: Double) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Samples.path("tfk/pretrained.h5")))
        let path = try write(data.prefix(Int(Double(data.count) * fraction)), named: "truncated.h5")
        expectError(path, [.notACheckpoint, .corrupt])
    }

    @Test(arguments: [0.1, 0.5, 0.99])
    func truncatedKerasArchive(_ fraction: Double) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Samples.path("k3/pretrained.keras")))
        let path = try write(data.prefix(Int(Double(data.count) * fraction)), named: "truncated.keras")
        expectError(path, [.notACheckpoint, .corrupt])
    }

    @Test func hdf5ThatIsNotAKerasCheckpoint() {
        expectError(Samples.path("bad/not_keras.h5"), [.notKeras], object: "/")
    }

    @Test func weightNamesListADatasetThatIsMissing() {
        expectError(Samples.path("bad/missing_dataset.h5"), [.corrupt], object: "dense/dense/kernel:0")
    }

    @Test func compressionLibhdf5CannotDecode() {
        expectError(Samples.path("bad/blosc.weights.h5"), [.unsupported], object: "/layers/dense/vars/0")
    }

    @Test func zipWithoutModelWeights() {
        expectError(Samples.path("bad/no_weights.keras"), [.notKeras], object: "model.weights.h5")
    }

    @Test func deflatedArchiveReadsTheSameWeightsAsTheStoredOne() throws {
        let stored = try Checkpoint.open(Samples.path("k3/pretrained.keras"))
        let deflated = try Checkpoint.open(Samples.path("bad/deflated.keras"))
        #expect(deflated.layers.map(\.name) == stored.layers.map(\.name))
        #expect(deflated.optimizer?.iterations == stored.optimizer?.iterations)
        for (a, b) in zip(stored.layers.flatMap(\.weights), deflated.layers.flatMap(\.weights)) {
            var ra = try stored.reader(for: a), rb = try deflated.reader(for: b)
            #expect(try ra.readAll() == rb.readAll())
        }
    }

    @Test(arguments: [0.3, 0.6, 0.9])
    func corruptDeflatedDataIsRefused(_ at: Double) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: Samples.path("bad/deflated.keras")))
        // Inside the compressed model.weights.h5 (the largest member, in the middle of the file).
        let index = Int(Double(data.count) * at)
        for offset in 0..<16 { data[index + offset] ^= 0x5A }
        expectError(try write(data, named: "corrupt.keras"), [.corrupt, .notACheckpoint, .notKeras])
    }

    @Test func shardIndexNamingAMissingShard() throws {
        let folder = try Samples.temporaryDirectory()
        let index = #"{"metadata": {"total_size": 10}, "weight_map": {"/layers/dense/vars": ["gone_00000.weights.h5"]}}"#
        let path = folder.appendingPathComponent("gone.weights.json").path
        try Data(index.utf8).write(to: URL(fileURLWithPath: path))
        expectError(path, [.notFound], object: "gone_00000.weights.h5")
    }

    @Test(arguments: ["../pretrained_00000.weights.h5", "/etc/passwd", "sub/x.weights.h5"])
    func shardIndexPointingOutsideItsFolder(_ shard: String) throws {
        let folder = try Samples.temporaryDirectory()
        let index = #"{"weight_map": {"/layers/dense/vars": ["\#(shard)"]}}"#
        let path = folder.appendingPathComponent("escape.weights.json").path
        try Data(index.utf8).write(to: URL(fileURLWithPath: path))
        expectError(path, [.corrupt])
    }
}
