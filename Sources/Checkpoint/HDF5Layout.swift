import HDF5

/// Recognises which Keras layout an HDF5 file has and reads it.
/// `config` is the model config from outside the file (a `.keras` archive's `config.json`),
/// `kerasVersion` the writer's version from its `metadata.json`.
/// `config` is asked for only where the layout uses it, after the file's groups were walked (a
/// `.keras` archive's config is parsed meanwhile, on another thread).
func readHDF5Layout(_ file: HDF5.File, config: @autoclosure () throws -> JSONValue?, kerasVersion: String? = nil) throws -> (CheckpointFormat, Checkpoint.Contents) {
    let root = try hdf5 { try file.root() }
    let rootKinds = Dictionary(try hdf5 { try root.members() }.map { ($0.name, $0.kind) }, uniquingKeysWith: { a, _ in a })
    if rootKinds["model_weights"] == .group {
        return (.legacyH5, try readLegacy(file: file, root: root, weightsGroupPath: "/model_weights"))
    }
    if root.hasAttribute("layer_names") || root.hasAttribute("layer_names0") {
        return (.legacyWeightsH5, try readLegacy(file: file, root: root, weightsGroupPath: "/"))
    }
    if rootKinds["layers"] == .group || rootKinds["_layer_checkpoint_dependencies"] == .group || rootKinds["vars"] == .group {
        return (.weightsH5, try readWeightsH5(files: [file], config: try config(), kerasVersion: kerasVersion))
    }
    throw CheckpointError(.notKeras, file: file.path, object: "/",
                          message: "HDF5 file is not a Keras checkpoint (no model_weights group, layer_names attribute or layers group)")
}

/// The longest name list read (`layer_names`, `weight_names`): far more layers than any model has.
let nameListLimit = 100_000

/// Reads a string attribute that Keras may have split into `<name>0`, `<name>1`, … chunks.
func readNameList(_ group: Group, _ name: String) throws -> [String]? {
    func strings(_ attribute: String) throws -> [String]? {
        guard let value = try hdf5({ try group.attribute(attribute) }) else { return nil }
        guard let list = value.stringList else {
            throw CheckpointError(.corrupt, file: group.file.path, object: "\(group.path)@\(attribute)",
                                  message: "attribute is not a list of names")
        }
        return list
    }
    func limited(_ list: [String]) throws -> [String] {
        guard list.count <= nameListLimit else {
            throw CheckpointError(.unsupported, file: group.file.path, object: "\(group.path)@\(name)",
                                  message: "lists \(list.count) names, more than the \(nameListLimit) read")
        }
        return list
    }
    if let whole = try strings(name) { return try limited(whole) }
    var chunks: [String] = []
    var index = 0
    while let chunk = try strings("\(name)\(index)") {
        chunks = try limited(chunks + chunk)
        index += 1
    }
    return index == 0 ? nil : chunks
}

func stringAttribute(_ group: Group, _ name: String) -> String? {
    (try? group.attribute(name))??.string
}

/// Maps an HDF5 element type to a weight dtype. A 2-byte opaque type is bfloat16: that is the
/// only thing Keras (through h5py) stores as opaque, marked with a `dtype` attribute from
/// Keras 3.0.5 on and unmarked before and in legacy files.
func weightDType(_ dataset: Dataset) throws -> DType {
    switch dataset.elementType {
    case .float(2, .ieeeHalf): return .float16
    case .float(2, .bfloat16): return .bfloat16
    case .float(4, .ieeeSingle): return .float32
    case .float(8, .ieeeDouble): return .float64
    case .opaque(2, _): return .bfloat16
    case .integer(let size, let signed):
        switch (size, signed) {
        case (1, true): return .int8
        case (2, true): return .int16
        case (4, true): return .int32
        case (8, true): return .int64
        case (1, false): return .uint8
        case (2, false): return .uint16
        case (4, false): return .uint32
        case (8, false): return .uint64
        default: return .other
        }
    default:
        return .other
    }
}

func makeWeight(name: String, storedName: String?, dataset: Dataset, pathPrefix: String = "",
                trainable: Bool?) throws -> Weight {
    let path = pathPrefix + dataset.path
    return Weight(name: name, storedName: storedName, path: path, trainable: trainable,
                  tensor: HDF5Tensor(file: dataset.file, datasetPath: dataset.path, shape: dataset.shape,
                                     dtype: try weightDType(dataset), count: dataset.count, object: path,
                                     fileOffset: dataset.fileOffset))
}

func openDataset(_ file: HDF5.File, _ path: String, what: String) throws -> Dataset {
    try openDataset(file, path, what: what) { try file.dataset(path) }
}

/// Opens a dataset, turning "not there" into the corrupt-checkpoint error that names who listed it.
func openDataset(_ file: HDF5.File, _ path: String, what: String, _ open: () throws -> Dataset) throws -> Dataset {
    do {
        return try open()
    } catch let error as HDF5Error where error.code == .notFound {
        throw CheckpointError(.corrupt, file: file.path, object: error.object ?? path,
                              message: "\(what) names a dataset that is not in the file (a truncated or crashed save?)", hdf5: error)
    } catch let error as HDF5Error {
        throw CheckpointError(error)
    }
}
