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
            guard FileManager.default.fileExists(atPath: shardPath) || isSymbolicLink(shardPath) else {
                throw CheckpointError(.notFound, file: path, object: shard, message: "shard listed in the index is missing")
            }
            try requireMember(shardPath, inFolder: folder, object: shard, reportedAs: path)
            shards.append((shard, shardPath))
        }
        if Safetensors.looksLike(try Probe(shards[0].path).head) {
            return try openSafetensorsShards(path, weightMap: weightMap, shards: shards)
        }
        let files = try shards.map { shard in try hdf5 { try HDF5.File.open(shard.path) } }
        var contents = try readWeightsH5(files: files, config: nil, pathPrefixes: shardNames)
        contents.notes.append("\(shardNames.count) shards")
        return Checkpoint(path: path, format: .shardedJSON, contents: contents)
    }
}
