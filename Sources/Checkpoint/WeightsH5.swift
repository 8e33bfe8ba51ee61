import HDF5

/// `.weights.h5` (Keras 3, tf.keras 2.13+), alone, inside a `.keras`, or split into shards.
/// Every saveable object keeps its variables as datasets `0`, `1`, … in a `vars` group under
/// its attribute path (`/layers/conv2d/vars/0`); names are not stored, and model order only
/// in a `.keras` config. With several files (shards), one `vars` group may be split across
/// them; `pathPrefixes` names each file in weight paths.
func readWeightsH5(files: [HDF5.File], config: JSONValue?, pathPrefixes: [String]? = nil) throws -> Checkpoint.Contents {
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
                          files: files, groups: groups, into: &ordered, claimed: &claimed)
    } else {
        contents.layerOrder = "path"
    }
    let rest = groups.filter { !claimed.contains($0.key) && !isOptimizerOrMetric($0.key) && !$0.value.datasets.isEmpty }.keys
        .sorted(by: KerasNames.naturalLess)
    if model != nil, !rest.isEmpty {
        contents.notes.append("\(rest.count) variable group(s) not in the model config, listed last: \(rest.joined(separator: ", "))")
    }
    for path in rest {
        ordered.append((path, storedName(of: path, groups: groups) ?? groups[path]?.label ?? path, nil))
    }

    for (path, name, entry) in ordered {
        guard let group = groups[path], !group.datasets.isEmpty else { continue }
        let lastComponent = path.split(separator: "/").last.map(String.init) ?? ""
        let className = entry?.className ?? (path == "/" ? nil : KerasNames.className(fromGroupName: lastComponent))
        let variableNames = KerasNames.variableNames(className: className, count: group.datasets.count, config: entry?.config)
        var weights: [Weight] = []
        for index in 0..<group.datasets.count {
            let (source, datasetPath) = group.datasets[index]!
            let dataset = try openDataset(files[source], datasetPath, what: "\(path)/vars")
            let trainable: Bool? = entry?.trainable == false ? false
                : (["moving_mean", "moving_variance"].contains(variableNames[index]) ? false : entry?.trainable)
            weights.append(try makeWeight(name: variableNames[index], storedName: nil, dataset: dataset, source: source,
                                          pathPrefix: pathPrefixes.map { $0[source] + ":" } ?? "", trainable: trainable))
        }
        contents.layers.append(Layer(name: name, className: className, path: path, weights: weights,
                                     trainable: entry?.trainable))
    }

    if let optimizerGroup = groups["/optimizer"] {
        var iterations: Int64?
        var parameters = 0
        for index in optimizerGroup.datasets.keys.sorted() {
            let (source, datasetPath) = optimizerGroup.datasets[index]!
            let dataset = try openDataset(files[source], datasetPath, what: "/optimizer/vars")
            parameters += dataset.count
            if index == 0 { iterations = try readScalarInteger(dataset) }
        }
        let optimizerConfig = contents.trainingConfig?["optimizer"]
        contents.optimizer = OptimizerState(className: optimizerClassName(optimizerConfig),
                                            name: optimizerGroup.nameAttribute ?? optimizerConfig?["config"]?["name"]?.string,
                                            iterations: iterations, variableCount: optimizerGroup.datasets.count,
                                            parameterCount: parameters, config: optimizerConfig)
    } else if let optimizerConfig = contents.trainingConfig?["optimizer"], optimizerConfig != .null {
        contents.optimizer = OptimizerState(className: optimizerClassName(optimizerConfig),
                                            name: optimizerConfig["config"]?["name"]?.string, iterations: nil,
                                            variableCount: 0, parameterCount: 0, config: optimizerConfig)
    }
    return contents
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
                               namePrefix: String, files: [HDF5.File], groups: [String: VarsGroup],
                               into ordered: inout [(path: String, name: String, entry: KerasConfig.Entry?)],
                               claimed: inout Set<String>) {
    // The groups present in this container, by class base name, lowest suffix first.
    var present: [String: [(Int, String)]] = [:]
    for (path, _) in groups where path.hasPrefix(containerPath + "/") {
        let rest = path.dropFirst(containerPath.count + 1)
        let first = String(rest.split(separator: "/").first ?? "")
        let (base, index) = KerasNames.splitSuffix(first)
        let full = containerPath + "/" + first
        if !(present[base]?.contains { $0.1 == full } ?? false) { present[base, default: []].append((index, full)) }
    }
    for key in present.keys { present[key]?.sort { $0.0 < $1.0 } }
    var used: [String: Int] = [:]
    for entry in entries {
        let base = KerasNames.snakeCase(entry.className)
        let candidates = present[base] ?? []
        let position = used[base, default: 0]
        guard position < candidates.count else { continue }
        used[base] = position + 1
        let path = candidates[position].1
        let name = namePrefix + entry.name
        if entry.isModel {
            if groups[path] != nil, !claimed.contains(path) {
                ordered.append((path, name, entry))
                claimed.insert(path)
            }
            assignConfigPaths(entry.children, containerPath: path + "/" + container, container: container,
                              namePrefix: name + "/", files: files, groups: groups, into: &ordered, claimed: &claimed)
        } else if groups[path] != nil {
            ordered.append((path, name, entry))
            claimed.insert(path)
        }
    }
}
