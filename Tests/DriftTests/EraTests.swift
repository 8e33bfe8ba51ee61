import Checkpoint
import Drift
import Foundation
import SampleFixtures
import Testing

/// The Keras eras of `samples/era` (tools/make_era_samples.py: real Keras 3.15 files and h5py
/// reproductions of Keras 1.2, 2.0 and 2.2 layouts) read as Keras reads them: one row per Keras
/// layer with its class and weight names, weightless layers in model order, and the optimizer,
/// learning rate (or Keras 2 decay at the saved step) and saved step.
@Suite struct EraTests {
    static let truth: JSONValue = {
        let data = try! Data(contentsOf: Samples.directory.appendingPathComponent("era/truth.json"))
        return JSONValue.parse(data)!
    }()

    static var checkpoints: [String] {
        (truth.object ?? [:]).filter { $0.value["layers"] != nil }.keys.sorted()
    }

    static var notCheckpoints: [String] {
        (truth.object ?? [:]).filter { $0.value["error"] != nil }.keys.sorted()
    }

    static func lastComponent(_ name: String) -> String {
        name.split(separator: "/").last.map(String.init) ?? ""
    }

    /// truth.json describes every file in samples/era, each as a checkpoint or as an error.
    @Test func everyEraIsCovered() throws {
        #expect(!Self.checkpoints.isEmpty && !Self.notCheckpoints.isEmpty)
        #expect(Set(Self.checkpoints).isDisjoint(with: Self.notCheckpoints))
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: Samples.path("era")).filter { $0 != "truth.json" }
        #expect((Self.checkpoints + Self.notCheckpoints).sorted() == onDisk.sorted())
    }

    @Test(arguments: checkpoints)
    func layersAreKerasLayers(_ file: String) throws {
        let entry = try #require(Self.truth[file])
        let checkpoint = try Checkpoint.open(Samples.path("era/" + file))
        #expect(checkpoint.format.rawValue == entry["format"]?.string)
        let expected = try #require(entry["layers"]?.array)
        // Compare in model order where the file records it; a bare .weights.h5 lists by path.
        var layers = checkpoint.allLayers
        if checkpoint.layerOrder == "path" {
            let order = expected.compactMap { $0.array?[0].string }
            layers = layers.sorted { (order.firstIndex(of: $0.name) ?? .max) < (order.firstIndex(of: $1.name) ?? .max) }
            let weighted = expected.filter { !($0.array?[2].array?.isEmpty ?? true) }
            #expect(layers.map(\.name) == weighted.compactMap { $0.array?[0].string })
        } else {
            #expect(layers.map(\.name) == expected.compactMap { $0.array?[0].string })
        }
        for (layer, row) in zip(layers, expected.filter { checkpoint.layerOrder == "model" || !($0.array?[2].array?.isEmpty ?? true) }) {
            let fields = try #require(row.array)
            if checkpoint.layerOrder == "model" { #expect(layer.className == fields[1].string, "\(file) \(layer.name)") }
            let names = fields[2].array?.compactMap(\.string) ?? []
            #expect(layer.weights.count == names.count, "\(file) \(layer.name)")
            if checkpoint.layerOrder == "model" {
                // Keras's own variable name is the last component of ours (`forward_layer/kernel`).
                let ours: [String] = layer.weights.map { Self.lastComponent($0.name) }
                let keras: [String] = names.map(Self.lastComponent)
                #expect(ours == keras, "\(file) \(layer.name)")
                #expect(Set(layer.weights.map(\.name)).count == layer.weights.count, "\(file) \(layer.name): names repeat")
            }
            if fields.count > 3, let shapes = fields[3].array {
                let expectedShapes: [[Int]] = shapes.map { ($0.array ?? []).compactMap { $0.number.map { Int($0) } } }
                let ourShapes: [[Int]] = layer.weights.map(\.shape)
                #expect(ourShapes == expectedShapes, "\(file) \(layer.name)")
            }
        }
    }

    static var withOptimizer: [String] { checkpoints.filter { truth[$0]?["noOptimizer"]?.bool != true } }

    /// Every file the generator saved without an optimizer has none; the others are the argument list below.
    @Test func fileWithoutOptimizerHasNone() throws {
        let without = Self.checkpoints.filter { !Self.withOptimizer.contains($0) }
        #expect(!without.isEmpty && !Self.withOptimizer.isEmpty)
        for file in without {
            #expect(try Checkpoint.open(Samples.path("era/" + file)).optimizer == nil, "\(file)")
        }
    }

    @Test(arguments: withOptimizer)
    func trainingSetupIsRead(_ file: String) throws {
        let entry = try #require(Self.truth[file])
        let checkpoint = try Checkpoint.open(Samples.path("era/" + file))
        let setup = try #require(TrainingSetup(checkpoint.optimizer))
        #expect(setup.optimizer == entry["optimizer"]?.string)
        #expect(setup.iterations.map(Double.init) == entry["iterations"]?.number)
        let initial = try #require(entry["learningRateInitial"]?.number)
        let saved = try #require(entry["learningRateAtSavedStep"]?.number)
        let ours = try #require(setup.initialLearningRate, "\(file): no learning rate")
        #expect(abs(ours - initial) <= 1e-7 * initial, "\(file): \(ours) vs \(initial)")
        let oursSaved = try #require(setup.learningRateAtSavedStep)
        #expect(abs(oursSaved - saved) <= 1e-7 * saved, "\(file): \(oursSaved) vs \(saved)")
        #expect(setup.learningRate?.kind == entry["schedule"]?.string || (entry["schedule"]?.string == "constant"
            && setup.learningRate?.kind == "constant"))
        if entry["lossScaled"]?.bool == true {
            #expect(setup.lossScaled)
            let optimizer = try #require(checkpoint.optimizer)
            #expect(Double(optimizer.innerVariableCount) == entry["innerVariables"]?.number)
            #expect(optimizer.variableCount > optimizer.innerVariableCount)
        }
    }

    /// Keras 2's time-based decay, lr / (1 + decay · step), evaluated as its optimizers did.
    @Test func keras2DecayIsTimeBased() {
        let rate = LearningRate.timeBasedDecay(initial: 0.01, decay: 1e-4)
        #expect(rate.value(at: 0) == 0.01)
        #expect(abs(rate.value(at: 10_000) - 0.005) < 1e-15)
    }

    /// Keras 2.0.x's float32 counter named `iterations_1:0` is the saved step.
    @Test func floatIterationCounterIsRead() throws {
        let checkpoint = try Checkpoint.open(Samples.path("era/keras205_sequential.h5"))
        #expect(checkpoint.optimizer?.iterations == 150)
    }

    /// RNN cells and wrappers are their layer's row, so the depth profile runs in model order
    /// with the head last (they used to be rows of their own after the head).
    @Test func depthProfileFollowsModelOrder() throws {
        let path = Samples.path("era/k3_rnn.keras")
        let report = try DriftEngine.compare(base: Checkpoint.open(path), tuned: Checkpoint.open(path), policy: Policy())
        #expect(report.forgetting.profile.map(\.name) == ["lstm", "gru", "bidirectional", "time_distributed", "dense_1"])
        let depths = report.forgetting.profile.map(\.depth)
        #expect(depths == depths.sorted())
    }

    /// Bit-identical weights: cosine exactly 1 and angle 0.
    @Test func identicalFilesHaveCosineOne() throws {
        let path = Samples.path("era/k3_rnn.keras")
        let report = try DriftEngine.compare(base: Checkpoint.open(path), tuned: Checkpoint.open(path), policy: Policy())
        #expect(!report.layers.isEmpty)
        for layer in report.layers {
            let metrics = try #require(layer.sums?.metrics)
            #expect(metrics.cosine == 1, "\(layer.name)")
            #expect(metrics.angleDegrees == 0, "\(layer.name)")
            for weight in layer.weights where weight.metrics?.cosine != nil {
                #expect(weight.metrics?.cosine == 1, "\(layer.name)/\(weight.name)")
            }
        }
    }
}
