import HDF5
import Foundation

/// A checkpoint, whatever its layout (Keras HDF5 and zip layouts, safetensors, or built in
/// memory): layers in model order with their weights, the optimizer state apart, and the stored
/// configs. Each weight carries its `TensorSource`; values are streamed on demand with
/// `reader(for:)`; opening reads only metadata.
public final class Checkpoint: @unchecked Sendable {
    public let path: String
    public let format: CheckpointFormat
    /// The Keras version the writer stored, nil where the format stores none.
    public let kerasVersion: String?
    public let backend: String?
    /// Layers that own weights, in model order (see `layerOrder`): what `compare` pairs.
    public let layers: [Layer]
    /// Every layer the file or its config records, in model order, including layers that hold
    /// no weights (with an empty `weights`), as Keras's own summary lists them: what `inspect` shows.
    public let allLayers: [Layer]
    public let optimizer: OptimizerState?
    /// The stored model config (`model_config` or `.keras` `config.json`).
    public let modelConfig: JSONValue?
    /// The stored training/compile config (`training_config` or `compile_config`).
    public let trainingConfig: JSONValue?
    /// How `layers` is ordered: "model" when the file records model order, "path" when it
    /// does not (a bare `.weights.h5` or shard set) and layers are sorted by their path.
    public let layerOrder: String
    /// Things the reader noticed but that do not stop reading.
    public let notes: [String]
    /// A safetensors file's `__metadata__` map, nil where the format stores none.
    public let metadata: [String: String]?

    init(path: String, format: CheckpointFormat, contents: Contents) {
        self.path = path
        self.format = format
        kerasVersion = contents.kerasVersion
        backend = contents.backend
        allLayers = contents.layers
        layers = contents.layers.filter { !$0.weights.isEmpty }
        optimizer = contents.optimizer
        modelConfig = contents.modelConfig
        trainingConfig = contents.trainingConfig
        layerOrder = contents.layerOrder
        notes = contents.notes
        metadata = contents.metadata
    }

    /// A checkpoint of layers built in memory (weights with `InMemoryTensor` or any other
    /// `TensorSource`), named `path` in reports: for testing matching, metrics and verdicts
    /// without files. Layers are in model order; weightless ones are kept for `allLayers`.
    public convenience init(inMemory layers: [Layer], path: String = "<memory>", optimizer: OptimizerState? = nil) {
        var contents = Contents()
        contents.layers = layers
        contents.optimizer = optimizer
        self.init(path: path, format: .inMemory, contents: contents)
    }

    /// What a layout parser found.
    struct Contents {
        var kerasVersion: String?
        var backend: String?
        /// Every layer in model order, weightless ones with no weights.
        var layers: [Layer] = []
        var optimizer: OptimizerState?
        var modelConfig: JSONValue?
        var trainingConfig: JSONValue?
        var layerOrder = "model"
        var notes: [String] = []
        var metadata: [String: String]?
    }

    public var totalParameters: Int { layers.reduce(0) { $0 + $1.parameterCount } }

    /// Opens a checkpoint, recognising its layout from the content, not the file name: the first
    /// reader in `layouts` that recognises it opens it.
    public static func open(_ path: String) throws -> Checkpoint {
        let probe = try Probe(path)
        guard let layout = layouts.first(where: { $0.recognises(probe) }) else {
            throw CheckpointError(.notACheckpoint, file: path,
                                  message: "not a checkpoint (neither HDF5, a .keras zip, safetensors, nor a .weights.json or .safetensors index)")
        }
        return try layout.open(probe)
    }

    /// A stand-alone HDF5 checkpoint: legacy full model, legacy weights-only or `.weights.h5`.
    static func openHDF5(_ path: String) throws -> Checkpoint {
        let file = try hdf5 { try HDF5.File.open(path) }
        let (format, contents) = try readHDF5Layout(file, config: nil)
        return Checkpoint(path: path, format: format, contents: contents)
    }

    /// A `.keras` zip: `model.weights.h5` read in place as a byte range of the archive.
    static func openKerasZip(_ path: String) throws -> Checkpoint {
        let archive = try ZipArchive(path: path)
        guard let weightsMember = archive.member(named: "model.weights.h5") else {
            if let what = OtherFormats.identifyZip(memberNames: archive.members.map(\.name)) {
                throw CheckpointError(.notACheckpoint, file: path, message: what)
            }
            let other = archive.member(named: "model.weights.npz") != nil ? " (it has model.weights.npz, which is not read)" : ""
            throw CheckpointError(.notKeras, file: path, object: "model.weights.h5",
                                  message: "zip archive has no model.weights.h5 member\(other)")
        }
        // The config (large for a big model) is parsed on another thread while libhdf5 walks the
        // weights file; a broken config is still the error reported first.
        let configBytes = try archive.member(named: "config.json").map { try archive.read($0) }
        let config = Deferred { try configBytes.map { try parseJSON($0, file: path, object: "config.json") } }
        do {
            let metadata = try archive.member(named: "metadata.json").map { try parseJSON(archive.read($0), file: path, object: "metadata.json") }
            let file: HDF5.File
            if weightsMember.method == 0 {
                // Stored, as Keras writes it: read in place, a byte range of the archive.
                let range = try archive.dataRange(of: weightsMember)
                guard weightsMember.compressedSize == weightsMember.uncompressedSize else {
                    throw CheckpointError(.corrupt, file: path, object: "model.weights.h5", message: "stored member's sizes disagree")
                }
                // libhdf5 would find the member's own superblock in place; any other is a second HDF5 file.
                if ZipArchive.hdf5SignatureOffsets(path: path).contains(where: { $0 != range.offset }) { throw ambiguousPolyglot(path) }
                file = try openMember { try HDF5.File.open(path, byteRange: range) }
            } else {
                // Re-zipped with compression: inflate to a private temporary file, open it, and unlink it
                // at once (the open descriptors keep it readable; nothing is left behind).
                let temporary = FileManager.default.temporaryDirectory
                    .appendingPathComponent("weightdrift-\(UUID().uuidString).h5").path
                if !ZipArchive.hdf5SignatureOffsets(path: path).isEmpty { throw ambiguousPolyglot(path) }
                guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o600]),
                      let output = FileHandle(forWritingAtPath: temporary) else {
                    throw CheckpointError(.cannotOpen, file: path, object: "model.weights.h5", message: "cannot create a temporary file to inflate into")
                }
                defer { try? FileManager.default.removeItem(atPath: temporary) }
                do {
                    defer { try? output.close() }
                    try archive.stream(weightsMember) { try output.write(contentsOf: $0) }
                }
                file = try openMember { try HDF5.File.open(temporary, displayPath: path) }
            }
            var (_, contents) = try readHDF5Layout(file, config: try config.value(), kerasVersion: metadata?["keras_version"]?.string)
            contents.kerasVersion = metadata?["keras_version"]?.string
            return Checkpoint(path: path, format: .kerasZip, contents: contents)
        } catch {
            _ = try config.value()  // a broken config is the first error, as when it was parsed first
            throw error
        }
    }

    /// A file that is both a zip and HDF5 is refused: Keras's load_model reads a `.keras` as a zip
    /// whenever `zipfile.is_zipfile` says so (keras/src/saving/saving_api.py), h5py and Keras's
    /// `.h5` loader read the HDF5 — which weights are "the checkpoint" depends on the file name.
    static func ambiguousPolyglot(_ path: String) -> CheckpointError {
        CheckpointError(.notACheckpoint, file: path,
                        message: "is both an HDF5 file and a zip archive (Keras reads one or the other by the file name); refusing an ambiguous file")
    }

    /// Opens the archive's `model.weights.h5`, naming it in errors.
    private static func openMember(_ open: () throws -> HDF5.File) throws -> HDF5.File {
        try hdf5 {
            do {
                return try open()
            } catch let error as HDF5Error {
                throw HDF5Error(error.code, file: error.file, object: "model.weights.h5", message: error.message, stack: error.stack)
            }
        }
    }

    /// A `.keras` saved unzipped: a folder with `config.json` and `model.weights.h5`.
    static func openDirectory(_ path: String) throws -> Checkpoint {
        let weightsPath = (path as NSString).appendingPathComponent("model.weights.h5")
        guard FileManager.default.fileExists(atPath: weightsPath) else {
            if let what = OtherFormats.identifyDirectory(path) { throw CheckpointError(.notACheckpoint, file: path, message: what) }
            throw CheckpointError(.notACheckpoint, file: path, message: "is a directory (and not an unzipped .keras model with model.weights.h5)")
        }
        try requireMember(weightsPath, inFolder: path, object: "model.weights.h5", reportedAs: path)
        func json(_ name: String) throws -> JSONValue? {
            let file = (path as NSString).appendingPathComponent(name)
            guard isPresent(file) else { return nil }
            try requireMember(file, inFolder: path, object: name, reportedAs: path)
            let size = FileStatus(path: file)?.size ?? 0
            guard size <= 64 << 20 else {
                throw CheckpointError(.unsupported, file: path, object: name, message: "larger than 64 MiB: not a Keras config")
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CheckpointError(.cannotOpen, file: path, object: name, message: "cannot read")
            }
            return try parseJSON(data, file: path, object: name)
        }
        let config = try json("config.json")
        let metadata = try json("metadata.json")
        let file = try hdf5 { try HDF5.File.open(weightsPath) }
        var (_, contents) = try readHDF5Layout(file, config: config, kerasVersion: metadata?["keras_version"]?.string)
        contents.kerasVersion = metadata?["keras_version"]?.string
        return Checkpoint(path: path, format: .kerasDirectory, contents: contents)
    }

    /// Streams a weight's values in slices of at most `sliceElements` values; see `WeightReader`.
    public func reader(for weight: Weight, sliceElements: Int = 1 << 16) throws -> WeightReader {
        try WeightReader(weight: weight, sliceElements: sliceElements)
    }
}

/// A file inside a checkpoint folder (an unzipped `.keras`, a shard set) must be a regular file
/// inside that folder: a member that is a symbolic link leading out of it (to a system file,
/// another model) is refused, as are FIFOs and devices. The folder itself may be reached through
/// a symbolic link: the user named it.
func requireMember(_ path: String, inFolder folder: String, object: String, reportedAs file: String) throws {
    if isSymbolicLink(path) {
        let target = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let inside = URL(fileURLWithPath: folder.isEmpty ? "." : folder).resolvingSymlinksInPath().path
        guard target.hasPrefix(inside.hasSuffix("/") ? inside : inside + "/") else {
            throw CheckpointError(.unsupported, file: file, object: object,
                                  message: "is a symbolic link leading out of the folder (to \(target)); refusing to read outside the named files")
        }
    }
    try requireRegularFile(path, object: object, reportedAs: file)
}

func isSymbolicLink(_ path: String) -> Bool {
    FileStatus(linkAt: path)?.kind == .symbolicLink
}

/// Something is at `path`, a dangling symbolic link included (which `requireMember` then names).
func isPresent(_ path: String) -> Bool {
    FileStatus(linkAt: path) != nil
}

/// Refuses FIFOs, devices and sockets before anything opens them: opening a FIFO waits for a
/// writer forever, and a device can be endless.
func requireRegularFile(_ path: String, object: String?, reportedAs file: String) throws {
    let kind = FileStatus(path: path)?.kind
    guard kind == .regular else {
        throw CheckpointError(.notACheckpoint, file: file, object: object,
                              message: "not a regular file (\(kind.map { "a \($0.rawValue)" } ?? "nothing there"))")
    }
}

func parseJSON(_ data: Data, file: String, object: String) throws -> JSONValue {
    guard let value = JSONValue.parse(data) else {
        throw CheckpointError(.corrupt, file: file, object: object, message: "not valid JSON")
    }
    return value
}

/// A value computed on another thread from creation on; `value()` waits for it.
final class Deferred<T: Sendable>: @unchecked Sendable {
    private let done = DispatchGroup()
    private var result: Result<T, any Error>?

    init(_ work: @escaping @Sendable () throws -> T) {
        done.enter()
        DispatchQueue.global().async {
            self.result = Result { try work() }
            self.done.leave()
        }
    }

    func value() throws -> T {
        done.wait()
        return try result!.get()
    }
}
