import HDF5
import Foundation

/// Legacy HDF5: `model.save("m.h5")` (weights under `/model_weights`) and tf.keras
/// `save_weights("w.h5")` (the same at the root). Model order is `layer_names`; each layer's
/// weights are listed by `weight_names`, and the dataset path is `<layer>/<weight name>`.
func readLegacy(file: HDF5.File, root: Group, weightsGroupPath: String) throws -> Checkpoint.Contents {
    var contents = Checkpoint.Contents()
    let weightsGroup = weightsGroupPath == "/" ? root : try hdf5 { try file.group(weightsGroupPath) }
    contents.kerasVersion = stringAttribute(root, "keras_version") ?? stringAttribute(weightsGroup, "keras_version")
    contents.backend = stringAttribute(root, "backend") ?? stringAttribute(weightsGroup, "backend")
    contents.modelConfig = try jsonAttribute(root, "model_config")
    contents.trainingConfig = try jsonAttribute(root, "training_config")
    let config = KerasConfig(contents.modelConfig)

    guard let layerNames = try readNameList(weightsGroup, "layer_names") else {
        throw CheckpointError(.notKeras, file: file.path, object: weightsGroup.path,
                              message: "no layer_names attribute")
    }
    func childPath(_ name: String) -> String { weightsGroupPath == "/" ? "/" + name : weightsGroupPath + "/" + name }
    // Keras's loader cannot load a file naming a layer twice: a model's layer names are unique
    // (keras/src/ops/function.py: "All operation names should be unique"), so the count check in
    // legacy_h5_format.load_weights_from_hdf5_group ("Layer count mismatch") refuses it.
    var seenNames = Set<String>()
    for name in layerNames where !seenNames.insert(name).inserted {
        throw CheckpointError(.corrupt, file: file.path, object: "\(weightsGroup.path == "/" ? "" : weightsGroup.path)/@layer_names",
                              message: "names layer '\(name)' twice (Keras refuses to load such a file)")
    }

    var names = layerNames
    // Weights owned by the model itself (tf.keras 2.x); normally empty.
    if !names.contains("top_level_model_weights"), file.kind(of: childPath("top_level_model_weights")) == .group {
        names.append("top_level_model_weights")
    }
    for layerName in names {
        let groupPath = childPath(layerName)
        guard let group = file.groupIfPresent(groupPath) else {
            if layerName == "top_level_model_weights" { continue }
            throw CheckpointError(.corrupt, file: file.path, object: groupPath,
                                  message: "layer listed in layer_names has no group (a truncated save?)")
        }
        let weightNames = try readNameList(group, "weight_names") ?? []
        let entry = config?.find(layerName)
        if weightNames.isEmpty {
            // Keras lists every layer in `layer_names`, weightless ones with an empty
            // `weight_names` (tf-keras `save_weights_to_hdf5_group`); keep them, in model order.
            if layerName != "top_level_model_weights" {
                contents.layers.append(Layer(name: layerName, className: entry?.className, path: groupPath, weights: [],
                                             trainable: entry?.trainable))
            }
            continue
        }
        contents.layers += try legacyLayers(file: file, layerName: layerName, groupPath: groupPath,
                                            group: group, weightNames: weightNames, entry: entry, config: config)
    }
    contents.optimizer = try readLegacyOptimizer(file: file, trainingConfig: contents.trainingConfig)
    return contents
}

/// One layer, or, for a nested model, one leaf per inner layer that owns weights. The owner of
/// a weight is the path component before the variable name (`dense_1` in `dense_1/kernel:0`,
/// `inner/dense_1/kernel`). A layer is a nested model when its config says so (it has
/// `layers`); without a config, when its weights have several owners. A wrapper (Bidirectional,
/// TimeDistributed: a `layer` in its config) is one row, as Keras has one layer. Weights keep
/// their `weight_names` order, the order Keras's `load_weights_from_hdf5_group` assigns them in;
/// a nested model's leaves follow its config's layer order (else first appearance).
private func legacyLayers(file: HDF5.File, layerName: String, groupPath: String, group: Group, weightNames: [String],
                          entry: KerasConfig.Entry?, config: KerasConfig?) throws -> [Layer] {
    // The layer that made a stored weight: the path component before the weight's own name
    // (`dense_1/kernel:0` in a nested model). When one such name stands for different paths —
    // a custom layer holding sublayers, as Hugging Face's TF main layers do
    // (`tf_bert_for_sequence_classification/bert/encoder/layer_._0/attention/self/query/kernel:0`
    // and `…/layer_._1/…/query/kernel:0`) — it is the path below the layer's own scope, or
    // below what all the group's weights share (`encoder/layer_._0/attention/self/query`), so two
    // sublayers never merge into one row.
    let folders = weightNames.map { $0.split(separator: "/").dropLast().map(String.init) }
    let ambiguous = Dictionary(grouping: folders.filter { !$0.isEmpty }, by: { $0.last! }).values.contains { Set($0).count > 1 }
    let shared = !ambiguous ? 0 : folders.dropFirst().reduce(folders.first ?? []) { common, folder in
        Array(zip(common, folder).prefix { $0 == $1 }.map(\.0))
    }.count
    func ownerPath(_ folder: [String]) -> String? {
        guard let last = folder.last else { return nil }
        guard ambiguous else { return last }
        // Below the layer's own scope where the path has it (`tft5_for_conditional_generation/
        // encoder/block_._0/…` in layer `encoder`), else below what the group's weights share.
        let below = folder.firstIndex(of: layerName).map { Array(folder[($0 + 1)...]) } ?? Array(folder.dropFirst(shared))
        return below.isEmpty ? last : below.joined(separator: "/")
    }
    let ownerOf = Dictionary(zip(weightNames, folders.map(ownerPath)), uniquingKeysWith: { first, _ in first })
    func owner(_ stored: String) -> String? { ownerOf[stored] ?? nil }
    var owners: [String?] = []
    for name in weightNames where !owners.contains(owner(name)) { owners.append(owner(name)) }
    // Without a config, a Bidirectional still shows itself: its two owners are the
    // `forward_<layer>` and `backward_<layer>` Keras names its directions.
    let bidirectional = owners.count == 2 && owners.allSatisfy { name in
        ["forward_", "backward_"].contains { name?.hasPrefix($0) == true }
    }
    let nested = entry.map(\.isModel) ?? (owners.count > 1 && !bidirectional)
    // The inner layers that hold no weights, listed where the config puts them (not a
    // Sequential's InputLayer, which is not one of its layers).
    var weightless = Set<String>()
    if nested, let children = entry?.children {
        let listed = children.filter { child in
            owners.contains(child.name) || !(child.isModel || (child.className == "InputLayer" && entry?.className == "Sequential"))
        }.map(\.name)
        weightless = Set(listed.filter { !owners.contains($0) })
        owners = listed.map { Optional($0) } + owners.filter { !listed.contains($0 ?? "") }
    }

    var layers: [Layer] = []
    for leafOwner in (nested ? owners : [owners.first ?? nil]) {
        // (A path owner is looked up in the config by its last name.)
        let leafEntry = nested ? leafOwner.flatMap { config?.find(String($0.split(separator: "/").last ?? ""), in: entry) } : entry
        if let leafOwner, weightless.contains(leafOwner) {
            layers.append(Layer(name: "\(layerName)/\(leafOwner)", className: leafEntry?.className, path: groupPath,
                                weights: [], trainable: leafEntry?.trainable))
            continue
        }
        let trainable: Bool? = (entry?.trainable == false || leafEntry?.trainable == false) ? false : leafEntry?.trainable
        let stored = weightNames.filter { !nested || owner($0) == leafOwner }
        // Short names (`kernel`) unless they repeat within the row (a Bidirectional's two
        // directions): then the stored path below the layer (`forward_lstm_1/kernel`).
        let shortNames = stored.map(KerasNames.shortWeightName)
        let names = Set(shortNames).count == shortNames.count ? shortNames
            : stored.map { KerasNames.relativeWeightName($0, layer: layerName) }
        var weights: [Weight] = []
        for (storedName, short) in zip(stored, names) {
            let dataset = try openDataset(file, groupPath + "/" + storedName, what: "\(groupPath)@weight_names") {
                try group.dataset(storedName)
            }
            let leaf = KerasNames.shortWeightName(storedName)
            let weightTrainable: Bool? = trainable == false ? false
                : (["moving_mean", "moving_variance"].contains(leaf) ? false : trainable)
            weights.append(try makeWeight(name: short, storedName: storedName, dataset: dataset,
                                          trainable: weightTrainable))
        }
        let name = nested ? "\(layerName)/\(leafOwner ?? "?")" : layerName
        layers.append(Layer(name: name, className: leafEntry?.className, path: groupPath, weights: weights,
                            trainable: trainable))
    }
    return layers
}

private func readLegacyOptimizer(file: HDF5.File, trainingConfig: JSONValue?) throws -> OptimizerState? {
    let optimizerConfig = trainingConfig?["optimizer_config"]
    guard file.kind(of: "/optimizer_weights") == .group else {
        guard let optimizerConfig else { return nil }
        return OptimizerState(className: optimizerClassName(optimizerConfig),
                              name: optimizerConfig["config"]?["name"]?.string, iterations: nil,
                              variableCount: 0, parameterCount: 0, config: optimizerConfig)
    }
    let group = try hdf5 { try file.group("/optimizer_weights") }
    let names = try readNameList(group, "weight_names") ?? []
    var iterations: Int64?
    var parameters = 0
    for name in names {
        let dataset = try openDataset(file, "/optimizer_weights/" + name, what: "/optimizer_weights@weight_names")
        parameters += dataset.count
        if iterations == nil, KerasNames.isIterationCounter(KerasNames.shortWeightName(name)), dataset.shape.isEmpty {
            iterations = try readScalarCount(dataset)
        }
    }
    return OptimizerState(className: optimizerClassName(optimizerConfig),
                          name: optimizerConfig?["config"]?["name"]?.string, iterations: iterations,
                          variableCount: names.count, parameterCount: parameters, config: optimizerConfig)
}

/// A step counter stored as an integer, or as a float holding a whole number: Keras 2.0.x
/// created it as `K.variable(0., name='iterations')` (float32; keras 2.0.5 `optimizers.py`),
/// Keras 2.1+ and tf.keras as int64.
func readScalarCount(_ dataset: Dataset) throws -> Int64? {
    if let integer = try readScalarInteger(dataset) { return integer }
    guard case .float = dataset.elementType, dataset.count == 1 else { return nil }
    var value: [Double] = []
    try hdf5 { try dataset.read(dataset.all, into: &value) }
    guard let first = value.first, first.isFinite, first >= 0, first < 9e15, first.rounded() == first else { return nil }
    return Int64(first)
}

/// A stored scalar float (Keras 3's `learning_rate` optimizer variable).
func readScalarFloat(_ dataset: Dataset) throws -> Double? {
    guard case .float = dataset.elementType, dataset.count == 1, dataset.shape.isEmpty else { return nil }
    var value: [Double] = []
    try hdf5 { try dataset.read(dataset.all, into: &value) }
    return value.first
}

func readScalarInteger(_ dataset: Dataset) throws -> Int64? {
    guard case .integer = dataset.elementType, dataset.count == 1 else { return nil }
    var value: [Int64] = []
    try hdf5 { try dataset.read(dataset.all, into: &value) }
    return value.first
}

func jsonAttribute(_ group: Group, _ name: String) throws -> JSONValue? {
    guard let text = try hdf5({ try group.attribute(name) })?.string else { return nil }
    return try parseJSON(Data(text.utf8), file: group.file.path, object: group.path == "/" ? "/@\(name)" : "\(group.path)@\(name)")
}
