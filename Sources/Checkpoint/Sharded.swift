import Foundation
import HDF5

extension Checkpoint {
    /// A sharded-weights index and its shard files, which must sit in the index's own folder: a
    /// shard name with a folder in it is refused, so the index cannot make us read files
    /// elsewhere. Keras's `x.weights.json` (3.10+) maps layer paths to `.weights.h5` shards,
    /// `model.safetensors.index.json` tensor names to `.safetensors` shards; the first shard's
    /// content says which.
    static func openShardIndex(_ path: String) throws -> Checkpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError(.cannotOpen, file: path, message: "cannot read")
        }
        guard data.count <= 64 << 20, let index = JSONValue.parse(data) else {
            throw CheckpointError(.notACheckpoint, file: path, message: "not a Keras checkpoint (a file starting with '{' that is not valid JSON)")
        }
        guard let weightMap = index["weight_map"]?.object else {
            if let what = OtherFormats.identifyJSON(index) { throw CheckpointError(.notKeras, file: path, message: what) }
            throw CheckpointError(.notKeras, file: path, object: "weight_map",
                                  message: "JSON file is not a sharded-weights index (no weight_map)")
        }
        var shardNames: [String] = []
        var seen = Set<String>()
        for (group, value) in weightMap.sorted(by: { $0.key < $1.key }) {
            let names: [JSONValue] = value.array ?? [value]
            for name in names {
                guard let shard = name.string else {
                    throw CheckpointError(.corrupt, file: path, object: "weight_map[\(group)]", message: "shard name is not a string")
                }
                guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                    throw CheckpointError(.corrupt, file: path, object: "weight_map[\(group)]",
                                          message: "shard '\(shard)' is not a file name in the index's folder; refusing to read it")
                }
                if seen.insert(shard).inserted { shardNames.append(shard) }
                guard shardNames.count <= 10_000 else {
                    throw CheckpointError(.corrupt, file: path, object: "weight_map",
                                          message: "index lists more than 10,000 shard files: not a Keras index")
                }
            }
        }
        guard !shardNames.isEmpty else {
            throw CheckpointError(.notKeras, file: path, object: "weight_map", message: "index lists no shards")
        }
        shardNames.sort(by: KerasNames.naturalLess)
        let folder = (path as NSString).deletingLastPathComponent
        var shards: [(name: String, path: String)] = []
        for shard in shardNames {
            let shardPath = folder.isEmpty ? shard : (folder as NSString).appendingPathComponent(shard)
            guard isPresent(shardPath) else {
                throw CheckpointError(.notFound, file: path, object: shard, message: "shard listed in the index is missing")
            }
            try requireMember(shardPath, inFolder: folder, object: shard, reportedAs: path)
            shards.append((shard, shardPath))
        }
        if Safetensors.looksLike(try Probe(shards[0].path).head) {
            return try openSafetensorsShards(path, weightMap: weightMap, shards: shards)
        }
        let files = try shards.map { shard in try hdf5 { try HDF5.File.open(shard.path) } }
        if isHuggingFaceTF(weightMap: weightMap, first: files[0]) {
            return try openHuggingFaceTFShards(path, weightMap: weightMap, shards: shards, files: files)
        }
        var contents = try readWeightsH5(files: files, config: nil, pathPrefixes: shardNames)
        contents.notes.append("\(shardNames.count) shards")
        return Checkpoint(path: path, format: .shardedJSON, contents: contents)
    }

    /// A Hugging Face TF index (`tf_model.h5.index.json`): TF variable names (`…/kernel:0`) for
    /// keys, and shards that list their datasets in a root `layer_names` attribute, with neither
    /// Keras 3's `layers` group nor a legacy `model_weights` group.
    static func isHuggingFaceTF(weightMap: [String: JSONValue], first: HDF5.File) -> Bool {
        weightMap.keys.allSatisfy { KerasNames.shortWeightName($0) != String($0.split(separator: "/").last ?? "") }
            && first.kind(of: "/layers") == nil && first.kind(of: "/model_weights") == nil
            && (try? first.group("/").hasAttribute("layer_names")) == true
    }

    /// The shards of a Hugging Face TF model: each dataset is a weight named by its variable
    /// path below the model (`bert/encoder/layer_._0/attention/self/query/kernel:0`), its layer
    /// the path without the last name — the rows `tf_model.h5` gives the same model. Every
    /// dataset must be where the index says, and every indexed weight in its shard.
    static func openHuggingFaceTFShards(_ path: String, weightMap: [String: JSONValue], shards: [(name: String, path: String)],
                                        files: [HDF5.File]) throws -> Checkpoint {
        // transformers stores a variable under its name less the model's own scope, except
        // names with "model." in them and one-part names (`modeling_tf_utils.tf_shard_checkpoint` callers).
        func stored(_ key: String) -> String {
            let parts = key.split(separator: "/")
            return key.contains("model.") || parts.count == 1 ? key : parts.dropFirst().joined(separator: "/")
        }
        var shardOf: [String: String] = [:]
        for (key, value) in weightMap {
            guard let shard = value.string else {
                throw CheckpointError(.corrupt, file: path, object: "weight_map[\(key)]", message: "shard name is not a string")
            }
            shardOf[stored(key)] = shard
        }
        var weights: [String: [Weight]] = [:]
        var found = Set<String>()
        for (shard, file) in zip(shards, files) {
            let root = try hdf5 { try file.group("/") }
            guard let names = try readNameList(root, "layer_names") else {
                throw CheckpointError(.corrupt, file: path, object: shard.name, message: "shard has no layer_names attribute")
            }
            for name in names {
                guard shardOf[name] == shard.name else {
                    throw CheckpointError(.corrupt, file: path, object: "\(shard.name):\(name)",
                                          message: shardOf[name] == nil ? "dataset is not in the index's weight_map"
                                              : "the index places this weight in \(shardOf[name]!), not in this shard")
                }
                guard found.insert(name).inserted else {
                    throw CheckpointError(.corrupt, file: path, object: "\(shard.name):\(name)", message: "dataset is listed twice in layer_names")
                }
                let dataset = try openDataset(file, "/" + name, what: "\(shard.name)@layer_names")
                // A TF variable path, split as a TF-named safetensors tensor is (same rows, same weights).
                let (layer, weight) = Safetensors.split(name)
                weights[layer, default: []].append(try makeWeight(name: weight, storedName: name, dataset: dataset,
                                                                  pathPrefix: shard.name + ":", trainable: nil))
            }
        }
        guard found.count == shardOf.count else {
            let missing = shardOf.keys.filter { !found.contains($0) }.sorted().first ?? "?"
            throw CheckpointError(.corrupt, file: path, object: missing,
                                  message: "weight in the index is not in its shard \(shardOf[missing] ?? "?") (a missing or truncated shard?)")
        }
        var contents = Checkpoint.Contents()
        contents.layers = weights.keys.sorted(by: KerasNames.naturalLess).map { name in
            Layer(name: name, className: nil, path: name, weights: weights[name]!, trainable: nil)
        }
        contents.layerOrder = "path"
        contents.notes.append("\(shards.count) shards")
        return Checkpoint(path: path, format: .hfTFSharded, contents: contents)
    }
}
