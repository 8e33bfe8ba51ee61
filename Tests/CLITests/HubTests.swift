import Foundation
import SampleFixtures
import Testing

/// What two model hubs' libraries save, written by the libraries themselves
/// (`tools/make_hub_samples.py`); the truth is each library's own variable list.
/// `samples/hf/`: Hugging Face transformers' TF models — `tf_model.h5`, a Keras `save_weights`
/// file in which one Keras layer (`bert`) holds every sublayer's weights under name scopes, and
/// the same weights as safetensors with TF variable names.
/// `samples/kerashub/`: keras-hub's `save_to_preset` — a folder with `model.weights.h5` and a
/// `config.json` of hyperparameters that lists no layers.
@Suite struct HubTests {
    struct Truth: Decodable {
        struct Layer: Decodable {
            let name: String
            let weights: [String]
            let shapes: [[Int]]
            let relativeChange: Double
        }
        struct Rows: Decodable {
            let rows: [String]
            let parameters: Int
        }
        let parameters: Int
        let layers: [Layer]
        let t5: Rows?
    }

    static func truth(_ folder: String) -> Truth {
        let data = try! Data(contentsOf: URL(fileURLWithPath: Samples.path("\(folder)/truth.json")))
        return try! JSONDecoder().decode(Truth.self, from: data)
    }

    static let truth = truth("hf")
    static let kerasHub = truth("kerashub")

    static func json(_ arguments: [String], status: Int32 = 0) throws -> [String: Any] {
        let result = try CLI.run(arguments + ["--format", "json"])
        #expect(result.status == status, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// Each sublayer is its own row (the two encoder layers' `query` are two layers, not one),
    /// in transformers' variable order, with its weights' short names and shapes.
    @Test func tfModelH5HasOneRowPerSublayer() throws {
        let report = try Self.json(["inspect", "samples/hf/tf_base/tf_model.h5"])
        // (inspect also lists the classifier's dropout, a layer without weights)
        let all = try #require(report["layers"] as? [[String: Any]])
        let layers = all.filter { ($0["weights"] as? [Any])?.isEmpty == false }
        #expect(all.count == layers.count + 1)
        #expect(layers.map { $0["name"] as? String } == Self.truth.layers.map(\.name))
        for (layer, expected) in zip(layers, Self.truth.layers) {
            let weights = try #require(layer["weights"] as? [[String: Any]])
            #expect(weights.map { $0["name"] as? String } == expected.weights, "\(expected.name)")
            #expect(weights.map { $0["shape"] as? [Int] } == expected.shapes, "\(expected.name)")
        }
        #expect(report["totalParameters"] as? Int == Self.truth.parameters)
        #expect(Set(Self.truth.layers.map(\.name)).count == Self.truth.layers.count)
        #expect(Self.truth.layers.contains { $0.name.hasSuffix("layer_._0/attention/self/query") })
        #expect(Self.truth.layers.contains { $0.name.hasSuffix("layer_._1/attention/self/query") })
    }

    /// A T5's three Keras layers each list the tied embedding, which lies outside their scope:
    /// one row per sublayer below each layer's scope, the tied embedding under each layer.
    @Test func t5RowsAreSublayersBelowEachLayersScope() throws {
        let expected = try #require(Self.truth.t5)
        let report = try Self.json(["inspect", "samples/hf/t5"])
        let layers = try #require(report["layers"] as? [[String: Any]]).filter { ($0["weights"] as? [Any])?.isEmpty == false }
        #expect(layers.compactMap { $0["name"] as? String }.sorted() == expected.rows)
        #expect(report["totalParameters"] as? Int == expected.parameters)
        #expect(expected.rows.contains("encoder/block_._1/layer_._1/DenseReluDense/wi") && expected.rows.contains("encoder/shared/shared"))
    }

    /// Two `save_pretrained` folders, and the h5 against the tuned model's safetensors: every
    /// layer paired by name, each layer's relative change as computed from transformers' variables.
    @Test(arguments: [["samples/hf/tf_base", "samples/hf/tf_tuned"],
                      ["samples/hf/tf_base/tf_model.h5", "samples/hf/tf_tuned_st/model.safetensors"],
                      ["samples/hf/tf_base", "samples/hf/tf_tuned_st"],
                      ["samples/hf/tf_base", "samples/hf/tf_tuned_sharded"],
                      ["samples/hf/tf_tuned_sharded/tf_model.h5.index.json", "samples/hf/tf_base/tf_model.h5"]])
    func foldersAndLayoutsCompareLayerByLayer(_ pair: [String]) throws {
        let report = try Self.json(["compare"] + pair)
        let layers = try #require(report["layers"] as? [[String: Any]])
        // In the base's order (the shards' is by path); base and tuned swapped give the same changes.
        #expect(Set(layers.compactMap { $0["name"] as? String }) == Set(Self.truth.layers.map(\.name)))
        #expect(layers.count == Self.truth.layers.count)
        #expect(layers.allSatisfy { $0["matchedBy"] as? String == "name" })
        for expected in Self.truth.layers {
            let layer = try #require(layers.first { $0["name"] as? String == expected.name })
            #expect(layer["matchedBy"] as? String == "name")
            let change = try #require(layer["relativeChange"] as? Double)
            // Swapped, the change is relative to the tuned norm: within 1.5% here (changes ≤ 2.2%).
            let tolerance = pair[0].contains("tuned") ? 0.03 * expected.relativeChange : 1e-9 * expected.relativeChange
            #expect(abs(change - expected.relativeChange) <= tolerance, "\(expected.name)")
        }
        let coverage = try #require(report["coverage"] as? [String: Any])
        #expect(coverage["fraction"] as? Double == 1)
    }

    /// A sharded TF save whose index and shards disagree is refused, naming the weight.
    @Test func shardIndexThatDisagreesWithItsShardsIsRefused() throws {
        let folder = try Samples.temporaryDirectory().appendingPathComponent("tf_sharded")
        try FileManager.default.copyItem(atPath: Samples.path("hf/tf_tuned_sharded"), toPath: folder.path)
        let indexURL = folder.appendingPathComponent("tf_model.h5.index.json")
        let original = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
        var map = try #require(original["weight_map"] as? [String: String])
        let shards = Set(map.values).sorted()
        #expect(shards.count >= 2)
        let moved = try #require(map.keys.sorted().first)
        map[moved] = shards.first { $0 != map[moved] }
        try JSONSerialization.data(withJSONObject: ["metadata": original["metadata"] ?? [:], "weight_map": map]).write(to: indexURL)
        let wrong = try CLI.run(["inspect", folder.path])
        #expect(wrong.status == 2 && wrong.stderr.contains("the index places this weight in"), "\(wrong.stderr)")

        map = try #require(original["weight_map"] as? [String: String])
        map["tf_bert_for_sequence_classification/extra/kernel:0"] = shards[0]
        try JSONSerialization.data(withJSONObject: ["metadata": original["metadata"] ?? [:], "weight_map": map]).write(to: indexURL)
        let missing = try CLI.run(["compare", Samples.path("hf/tf_base"), folder.path])
        #expect(missing.status == 2 && missing.stderr.contains("extra/kernel:0") && missing.stderr.contains("not in its shard"), "\(missing.stderr)")
    }

    /// A pipeline folder (sentence-transformers, diffusers) keeps its checkpoints one level down:
    /// the error names them; the subfolder itself reads.
    @Test func pipelineFolderNamesItsSubfolderCheckpoints() throws {
        let folder = try Samples.temporaryDirectory().appendingPathComponent("pipeline")
        let module = folder.appendingPathComponent("0_Transformer")
        try FileManager.default.createDirectory(at: module, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        try Data("[]".utf8).write(to: folder.appendingPathComponent("modules.json"))
        try FileManager.default.copyItem(atPath: Samples.path("safetensors/pretrained.safetensors"),
                                         toPath: module.appendingPathComponent("model.safetensors").path)
        let result = try CLI.run(["inspect", folder.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains(folder.path) && result.stderr.contains("0_Transformer/model.safetensors"), "\(result.stderr)")
        #expect(try CLI.run(["inspect", module.path]).status == 0)
    }

    /// A keras-hub preset folder: every variable group read (the config lists no layers, so by
    /// path, and said so), each layer's relative change as computed from the backbone's variables.
    @Test func kerasHubPresetsCompareLayerByLayer() throws {
        let inspected = try Self.json(["inspect", "samples/kerashub/base_preset"])
        #expect(inspected["format"] as? String == "keras-directory")
        #expect(inspected["layerOrder"] as? String == "path")
        #expect(inspected["totalParameters"] as? Int == Self.kerasHub.parameters)
        #expect((inspected["notes"] as? [String] ?? []).allSatisfy { !$0.contains("not in the model config") })
        let shapes = try #require(inspected["layers"] as? [[String: Any]]).filter { ($0["weights"] as? [Any])?.isEmpty == false }
            .map { layer in (layer["name"] as? String ?? "", (layer["weights"] as? [[String: Any]] ?? []).map { $0["shape"] as? [Int] ?? [] }) }
        #expect(Set(shapes.map(\.0)) == Set(Self.kerasHub.layers.map(\.name)))
        for layer in Self.kerasHub.layers {
            #expect(shapes.first { $0.0 == layer.name }?.1.sorted { $0.lexicographicallyPrecedes($1) }
                    == layer.shapes.sorted { $0.lexicographicallyPrecedes($1) }, "\(layer.name)")
        }

        let report = try Self.json(["compare", "samples/kerashub/base_preset", "samples/kerashub/tuned_preset"])
        let layers = try #require(report["layers"] as? [[String: Any]])
        #expect(layers.count == Self.kerasHub.layers.count)
        for expected in Self.kerasHub.layers {
            let layer = try #require(layers.first { $0["name"] as? String == expected.name }, "\(expected.name)")
            #expect(layer["matchedBy"] as? String == "name")
            let change = try #require(layer["relativeChange"] as? Double)
            #expect(abs(change - expected.relativeChange) <= 1e-9 * expected.relativeChange, "\(expected.name)")
        }
        #expect((report["coverage"] as? [String: Any])?["fraction"] as? Double == 1)
    }

    /// A folder with only PyTorch (or Flax, or sharded TF) weights is named for what it is.
    @Test func foldersWithWeightsNotReadSayWhatToDo() throws {
        for (file, expected) in [("pytorch_model.bin", "PyTorch"), ("flax_model.msgpack", "Flax")] {
            let folder = try Samples.temporaryDirectory().appendingPathComponent("model")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
            try Data([0x80, 0x02]).write(to: folder.appendingPathComponent(file))
            let result = try CLI.run(["inspect", folder.path])
            #expect(result.status == 2)
            #expect(result.stderr.contains(folder.path) && result.stderr.contains(expected) && result.stderr.contains("safe_serialization=True"),
                    "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }
}
