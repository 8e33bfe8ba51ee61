import HDF5

/// `.weights.h5` (Keras 3, tf.keras 2.13+), alone, inside a `.keras`, or split into shards.
/// Every saveable object keeps its variables as datasets `0`, `1`, … in a `vars` group under
/// its attribute path (`/layers/conv2d/vars/0`); names are not stored, and model order only
/// in a `.keras` config. With several files (shards), one `vars` group may be split across
/// them; `pathPrefixes` names each file in weight paths.
func readWeightsH5(files: [HDF5.File], config configProvider: @autoclosure () throws -> JSONValue?, kerasVersion: String? = nil,
                   pathPrefixes: [String]? = nil) throws -> Checkpoint.Contents {
    var contents = Checkpoint.Contents()
    var groups: [String: VarsGroup] = [:]
    for (index, file) in files.enumerated() {
        var visited: [UInt64: String] = [:]
        try collectVarsGroups(file: file, source: index, path: "/", depth: 0, into: &groups, visited: &visited)
    }
    let display = files.first?.path ?? ""
    for group in groups.values {
        let indices = group.datasets.keys.sorted()
        if indices != Array(0..<indices.count) {
            let missing = (0..<(indices.last ?? 0)).first { group.datasets[$0] == nil } ?? indices.count
            throw CheckpointError(.corrupt, file: display, object: group.path + "/vars/\(missing)",
                                  message: "variable \(missing) of \(group.path) is missing (a missing shard?)")
        }
    }

    // Asked for after the walk: a `.keras` archive's config is parsed on another thread meanwhile.
    let config = try configProvider()
    let model = KerasConfig(config)
    contents.modelConfig = config
    contents.trainingConfig = config?["compile_config"]

    // Layers in model order where a config tells it, else by path.
    var ordered: [(path: String, name: String, entry: KerasConfig.Entry?)] = []
    var claimed = Set<String>()
    if let model {
        let container = files.contains { $0.kind(of: "/_layer_checkpoint_dependencies") == .group } &&
            !files.contains { $0.kind(of: "/layers") == .group } ? "_layer_checkpoint_dependencies" : "layers"
        assignConfigPaths(model.root.children, containerPath: "/" + container, container: container, namePrefix: "",
                          parentClass: model.root.className, files: files, groups: groups, into: &ordered, claimed: &claimed)
    }
    // No config, or one that lists none of the stored layers (a keras-hub preset's
    // `config.json` holds the backbone's hyperparameters, not its layers): by path.
    let orderFromConfig = model != nil && !claimed.isEmpty
    if !orderFromConfig { contents.layerOrder = "path" }
    // A layer's sub-objects (an RNN's `cell`, a wrapper's `layer`, a Bidirectional's
    // `forward_layer`/`backward_layer`) are part of its row, as Keras has one layer.
    let unclaimed = groups.keys.filter { !claimed.contains($0) && !isOptimizerOrMetric($0) }
    var parts: [String: [String]] = [:]
    for path in claimed.union(unclaimed) {
        if let owner = compositeOwner(of: path, among: groups) { parts[owner, default: []].append(path) }
    }
    let partPaths = Set(parts.values.joined())
    let rest = unclaimed.filter { !partPaths.contains($0) && groupHasWeights($0, groups: groups, parts: parts) }
        .sorted(by: KerasNames.naturalLess)
    if orderFromConfig, !rest.isEmpty {
        contents.notes.append("\(rest.count) variable group(s) not in the model config, listed last: \(rest.joined(separator: ", "))")
    }
    for path in rest {
        ordered.append((path, storedName(of: path, groups: groups) ?? groups[path]?.label ?? path, nil))
    }

    for (path, name, entry) in ordered {
        let group = groups[path]
        let components = path.split(separator: "/").map(String.init)
        let lastComponent = components.last ?? ""
        // Keras names a `layers` container's items by the snake case of their class; any other
        // group is named by the Python attribute that holds it (a subclassed model's
        // `self.dsn1`), which says nothing about the class.
        let inContainer = components.count >= 2 && ["layers", "_layer_checkpoint_dependencies"].contains(components[components.count - 2])
        let className = entry?.className ?? (inContainer ? KerasNames.className(fromGroupName: lastComponent) : nil)
        var weights: [Weight] = []
        func add(_ vars: VarsGroup, className: String?, config: JSONValue?, prefix: String) throws {
            let variableNames = KerasNames.variableNames(className: className, count: vars.datasets.count, config: config)
            for index in 0..<vars.datasets.count {
                let (source, datasetPath) = vars.datasets[index]!
                let dataset = try openDataset(files[source], datasetPath, what: "\(vars.path)/vars")
                let trainable: Bool? = entry?.trainable == false ? false
                    : (["moving_mean", "moving_variance", "count"].contains(variableNames[index]) && className != nil
                        && ["BatchNormalization", "Normalization"].contains(className!) ? false : entry?.trainable)
                weights.append(try makeWeight(name: prefix + variableNames[index], storedName: nil, dataset: dataset,
                                              pathPrefix: pathPrefixes.map { $0[source] + ":" } ?? "",
                                              trainable: trainable))
            }
        }
        if let group { try add(group, className: className, config: entry?.config, prefix: "") }
        for part in (parts[path] ?? []).sorted(by: partOrder) {
            guard let vars = groups[part], !vars.datasets.isEmpty else { continue }
            let relative = part.dropFirst(path.count + 1).split(separator: "/").map(String.init)
            let (partClass, partConfig) = KerasNames.partClass(relative, ownerClass: className, ownerEntry: entry)
            let prefix = relative.filter { $0 != "cell" }.joined(separator: "/")
            try add(vars, className: partClass, config: partConfig, prefix: prefix.isEmpty ? "" : prefix + "/")
        }
        contents.layers.append(Layer(name: name, className: className, path: path, weights: weights,
                                     trainable: entry?.trainable))
    }

    contents.optimizer = try readOptimizer(files: files, groups: groups, compileConfig: contents.trainingConfig,
                                           kerasVersion: kerasVersion)
    return contents
}

/// Keras 3 and tf-keras keep the optimizer's variables in `/optimizer/vars`; Keras 3's
/// mixed-precision LossScaleOptimizer also saves its inner optimizer's under
/// `/optimizer/inner_optimizer/vars` (and repeats them after its own four in `/optimizer/vars`:
/// `LossScaleOptimizer.variables` is `self._variables + self.inner_optimizer.variables`, keras
/// `src/optimizers/loss_scale_optimizer.py`). Keras 3's `BaseOptimizer.__init__` creates the
/// `iteration` counter first and then, unless the rate is a schedule, the `learning_rate`
/// variable (keras `src/optimizers/base_optimizer.py`), so vars 0 and 1 are those two; tf-keras
/// creates only the counter before the slots (tf-keras `optimizers/optimizer.py`).
private func readOptimizer(files: [HDF5.File], groups: [String: VarsGroup], compileConfig: JSONValue?,
                           kerasVersion: String?) throws -> OptimizerState? {
    var optimizerConfig = compileConfig?["optimizer"]
    if optimizerConfig == .null { optimizerConfig = nil }
    var namedOnly = false
    if let text = optimizerConfig?.string {
        // Keras 3.0–3.3 stored `compile(optimizer="adam")`'s argument as given (the
        // SerializableDict was built before `optimizers.get`, keras v3.3.3 `trainers/trainer.py`;
        // v3.4.0 calls it first); loading calls `optimizers.get("adam")`: the class, its defaults.
        optimizerConfig = KerasNames.optimizerConfig(forName: text)
        namedOnly = true
    }
    guard let optimizerGroup = groups["/optimizer"] else {
        guard let optimizerConfig else { return nil }
        return OptimizerState(className: optimizerClassName(optimizerConfig),
                              name: optimizerConfig["config"]?["name"]?.string, iterations: nil,
                              variableCount: 0, parameterCount: 0, config: optimizerConfig, namedOnly: namedOnly)
    }
    let inner = groups["/optimizer/inner_optimizer"]
    // The writer is Keras 3 when its metadata says so or when it records names on `vars` groups
    // (Keras 3.6+); tf-keras does neither.
    let keras3 = kerasVersion.map { $0.hasPrefix("3.") } ?? (optimizerGroup.nameAttribute != nil)
    func scalar<T>(_ vars: VarsGroup, _ index: Int, _ read: (Dataset) throws -> T?) throws -> T? {
        guard let (source, path) = vars.datasets[index] else { return nil }
        return try read(try openDataset(files[source], path, what: "\(vars.path)/vars"))
    }
    var parameters = 0
    var variableCount = 0
    for vars in [optimizerGroup, inner].compactMap({ $0 }) {
        for index in vars.datasets.keys.sorted() {
            let (source, datasetPath) = vars.datasets[index]!
            parameters += try openDataset(files[source], datasetPath, what: "\(vars.path)/vars").count
            variableCount += 1
        }
    }
    // The step that counts is the inner optimizer's: the LossScaleOptimizer's own counter stays 0.
    let stepVars = inner ?? optimizerGroup
    let iterations = try scalar(stepVars, 0, readScalarCount)
    let lossScaled = inner != nil || optimizerConfig?["class_name"]?.string?.contains("LossScaleOptimizer") == true
    var storedRate: Double?
    // With a schedule there is no `learning_rate` variable: var 1 is then the first slot.
    let rateConfig = optimizerConfig?["config"]?["inner_optimizer"]?["config"]?["learning_rate"]
        ?? optimizerConfig?["config"]?["learning_rate"]
    let scheduled = rateConfig?.object != nil
    if keras3, !scheduled, let rate = try scalar(stepVars, 1, readScalarFloat), rate.isFinite, rate > 0 { storedRate = rate }
    return OptimizerState(className: optimizerClassName(optimizerConfig),
                          name: optimizerGroup.nameAttribute ?? optimizerConfig?["config"]?["name"]?.string,
                          iterations: iterations, variableCount: variableCount, parameterCount: parameters,
                          config: optimizerConfig, storedLearningRate: storedRate, lossScaled: lossScaled,
                          innerName: inner?.nameAttribute, innerVariableCount: inner?.datasets.count ?? 0,
                          namedOnly: namedOnly)
}

/// The row a sub-object's `vars` group belongs to: the nearest ancestor group when only
/// sub-object attributes (`cell`, `layer`, `forward_layer`, `backward_layer`) lie between.
private func compositeOwner(of path: String, among groups: [String: VarsGroup]) -> String? {
    var components = path.split(separator: "/").map(String.init)
    guard let last = components.last, KerasNames.partAttributes.contains(last) else { return nil }
    while let component = components.last, KerasNames.partAttributes.contains(component) {
        components.removeLast()
        let ancestor = "/" + components.joined(separator: "/")
        if groups[ancestor] != nil, !(components.last.map(KerasNames.partAttributes.contains) ?? false) { return ancestor }
    }
    return nil
}

private func groupHasWeights(_ path: String, groups: [String: VarsGroup], parts: [String: [String]]) -> Bool {
    !(groups[path]?.datasets.isEmpty ?? true) || (parts[path] ?? []).contains { !(groups[$0]?.datasets.isEmpty ?? true) }
}

/// Forward before backward (Bidirectional's weight order), then by path.
private func partOrder(_ a: String, _ b: String) -> Bool {
    let fa = a.contains("/forward_layer"), fb = b.contains("/forward_layer")
    if fa != fb { return fa }
    return KerasNames.naturalLess(a, b)
}

/// One object's `vars` group (possibly assembled from several shards).
struct VarsGroup {
    /// The owning object's path (`/layers/conv2d`); `/` for the model itself.
    let path: String
    /// The path without container components, as a fallback label: `conv2d`, `sequential/dense`.
    var label: String
    /// Variable index → (file, dataset path).
    var datasets: [Int: (Int, String)] = [:]
    /// Keras 3.6+ records the object's name on its `vars` group.
    var nameAttribute: String?
}

private func isOptimizerOrMetric(_ path: String) -> Bool {
    path == "/optimizer" || path.hasPrefix("/optimizer/") || path == "/metrics" || path.hasPrefix("/metrics/")
}

/// Groups and variables the walk visits in one file at most (each once: see `visited`).
let objectLimit = 1_000_000

/// Walks the groups, each once: `visited` maps a group's or variable's address to the first path
/// it was reached by, so one linked twice (hard or soft links: a cycle, a DAG with 2^40 paths,
/// two variables sharing a dataset) is refused at its second path instead of walked again. Soft
/// links are followed (inside the file); Keras never writes links.
private func collectVarsGroups(file: HDF5.File, source: Int, path: String, depth: Int,
                               into groups: inout [String: VarsGroup], visited: inout [UInt64: String]) throws {
    guard depth < 64 else {
        throw CheckpointError(.corrupt, file: file.path, object: path, message: "groups nested too deeply")
    }
    let group = try hdf5 { try file.group(path) }
    if depth == 0 { visited[try hdf5 { try group.address }] = path }
    func visit(_ member: Group.Member) throws {
        if let first = visited[member.address] {
            throw CheckpointError(.corrupt, file: file.path, object: member.path,
                                  message: "links to \(first) again (an object reached by two paths); refusing an aliased file")
        }
        visited[member.address] = member.path
        guard visited.count <= objectLimit else {
            throw CheckpointError(.unsupported, file: file.path, object: member.path,
                                  message: "more than \(objectLimit) groups and datasets: not read")
        }
    }
    let members = try hdf5 { try group.members() }
    for member in members where member.kind == .group { try visit(member) }
    for member in members where member.kind == .group {
        if member.name == "vars" {
            let vars = try hdf5 { try file.group(member.path) }
            var entry = groups[path] ?? VarsGroup(path: path, label: label(for: path))
            if entry.nameAttribute == nil, let name = stringAttribute(vars, "name") { entry.nameAttribute = name }
            let variables = try hdf5 { try vars.members() }
            for variable in variables where variable.kind == .dataset { try visit(variable) }
            for variable in variables where variable.kind == .dataset {
                guard let index = Int(variable.name), index >= 0, index < 1 << 30 else {
                    throw CheckpointError(.notKeras, file: file.path, object: variable.path,
                                          message: "variable dataset name is not an index")
                }
                if entry.datasets[index] != nil {
                    throw CheckpointError(.corrupt, file: file.path, object: variable.path,
                                          message: "variable stored twice (in two shards)")
                }
                entry.datasets[index] = (source, variable.path)
            }
            groups[path] = entry
        } else {
            try collectVarsGroups(file: file, source: source, path: member.path, depth: depth + 1, into: &groups,
                                  visited: &visited)
        }
    }
}

/// The layer name Keras 3.6+ records on `vars` groups, joined with the names recorded by the
/// nested models it sits in (`inner_seq/dense`); nil when the file records none.
private func storedName(of path: String, groups: [String: VarsGroup]) -> String? {
    guard let own = groups[path]?.nameAttribute else { return nil }
    // The ancestors are the path's own prefixes: look each up (not every group: that was
    // quadratic in the number of layers).
    var ancestors: [String] = []
    var prefix = ""
    for component in path.split(separator: "/").dropLast() {
        prefix += "/" + component
        if let name = groups[prefix]?.nameAttribute { ancestors.append(name) }
    }
    return (ancestors + [own]).joined(separator: "/")
}

private func label(for path: String) -> String {
    let parts = path.split(separator: "/").filter { $0 != "layers" && $0 != "_layer_checkpoint_dependencies" }
    return parts.isEmpty ? "(model)" : parts.joined(separator: "/")
}

/// Walks the config's layers in model order and finds each one's group: Keras names a
/// container's items by the snake case of their class, with `_1`, `_2`, … for later items of
/// the same class (tf.keras 2.13 skips numbers, so take the lowest unclaimed suffix).
private func assignConfigPaths(_ entries: [KerasConfig.Entry], containerPath: String, container: String,
                               namePrefix: String, parentClass: String, files: [HDF5.File], groups: [String: VarsGroup],
                               into ordered: inout [(path: String, name: String, entry: KerasConfig.Entry?)],
                               claimed: inout Set<String>) {
    // The groups present in this container, by class base name, lowest suffix first; and the
    // groups below each item (one pass over the groups, not one per layer: 400 layers made the
    // per-layer scans most of a .keras inspect).
    var present: [String: [(Int, String)]] = [:]
    var seen = Set<String>()
    var below: [String: [String]] = [:]
    let containerPrefix = containerPath + "/"
    for (path, _) in groups where path.hasPrefix(containerPrefix) {
        let rest = path.dropFirst(containerPrefix.count)
        let first = String(rest.split(separator: "/").first ?? "")
        let full = containerPrefix + first
        if path.count > full.count { below[full, default: []].append(path) }
        guard seen.insert(full).inserted else { continue }
        let (base, index) = KerasNames.splitSuffix(first)
        present[base, default: []].append((index, full))
    }
    for key in present.keys { present[key]?.sort { $0.0 < $1.0 } }
    var used: [String: Int] = [:]
    for entry in entries {
        let base = KerasNames.snakeCase(entry.className)
        let candidates = present[base] ?? []
        let position = used[base, default: 0]
        let name = namePrefix + entry.name
        guard position < candidates.count else {
            // No group: a layer without state. Listed (weightless) in model order, except the
            // InputLayer of a Sequential, which is not one of its `layers` in Keras.
            if !entry.isModel, !(entry.className == "InputLayer" && parentClass == "Sequential") {
                ordered.append((containerPath + "/" + base, name, entry))
            }
            continue
        }
        used[base] = position + 1
        let path = candidates[position].1
        if entry.isModel {
            if groups[path] != nil, !claimed.contains(path), !(groups[path]?.datasets.isEmpty ?? true) {
                ordered.append((path, name, entry))
                claimed.insert(path)
            } else {
                claimed.insert(path)
            }
            assignConfigPaths(entry.children, containerPath: path + "/" + container, container: container,
                              namePrefix: name + "/", parentClass: entry.className, files: files, groups: groups,
                              into: &ordered, claimed: &claimed)
        } else {
            ordered.append((path, name, entry))
            claimed.insert(path)
            // Variables of sublayers the config does not list (MultiHeadAttention's projections)
            // sit at this layer's depth, not after the model; an RNN's cell or a wrapper's layer
            // (a composite part) joins its owner's row instead.
            let inner = (below[path] ?? []).filter {
                !claimed.contains($0) && !(groups[$0]?.datasets.isEmpty ?? true) && compositeOwner(of: $0, among: groups) == nil
            }.sorted(by: KerasNames.naturalLess)
            for sub in inner {
                let relative = label(for: String(sub.dropFirst(path.count)))
                ordered.append((sub, storedName(of: sub, groups: groups) ?? name + "/" + relative, nil))
                claimed.insert(sub)
            }
        }
    }
}
