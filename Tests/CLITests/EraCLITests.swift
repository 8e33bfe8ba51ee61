import Foundation
import SampleFixtures
import Testing

/// What a user sees for the era samples (tools/make_era_samples.py) and for inputs that are not
/// Keras checkpoints.
@Suite struct EraCLITests {
    /// File → the words its error must contain, for the inputs that are not checkpoints.
    /// samples/era/truth.json: what the generator wrote into each file.
    static var truth: [String: [String: Any]] {
        let data = try! Data(contentsOf: Samples.directory.appendingPathComponent("era/truth.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
    }

    static let errors: [String: String] = truth.compactMapValues { $0["error"] as? String }

    static var notCheckpoints: [String] { errors.keys.sorted() }

    /// A file's layers as the generator recorded them: name, class and weight names.
    static func layers(_ file: String) throws -> [(name: String, className: String, weights: [String])] {
        let rows = try #require(truth[file]?["layers"] as? [[Any]], "\(file): no layers in era/truth.json")
        return try rows.map { row in
            (try #require(row[0] as? String), try #require(row[1] as? String), try #require(row[2] as? [String]))
        }
    }

    static func number(_ file: String, _ key: String) throws -> Double {
        try #require(truth[file]?[key] as? Double, "\(file): no \(key) in era/truth.json")
    }

    @Test func everyFileThatIsNotACheckpointIsListed() {
        #expect(!Self.notCheckpoints.isEmpty)
    }

    /// One line naming the file and what it is, exit 2, for `inspect` and `compare` alike.
    @Test(arguments: notCheckpoints)
    func otherFormatsAreNamed(_ file: String) throws {
        let expected = try #require(Self.errors[file])
        for arguments in [["inspect", "samples/era/\(file)"], ["compare", "samples/k3/pretrained.keras", "samples/era/\(file)"]] {
            let result = try CLI.run(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stdout.isEmpty)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("weightdrift: error: samples/era/\(file): "), "\(result.stderr)")
            #expect(result.stderr.contains(expected), "\(result.stderr)")
        }
    }

    /// `schedule` on a Keras 2 file with `lr` and `decay`: the time-based decay at the saved step.
    @Test func scheduleReadsKeras2DecayAtTheSavedStep() throws {
        let result = try CLI.run(["schedule", "samples/era/keras205_sequential.h5", "--format", "json", "--steps", "0,150"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["kind"] as? String == "TimeBasedDecay")
        let saved = Int(try Self.number("keras205_sequential.h5", "iterations"))
        #expect(json["savedStep"] as? Int == saved)
        let values = try #require(json["values"] as? [[String: Any]])
        let atSaved = try #require(values.first { $0["step"] as? Int == saved }?["learningRate"] as? Double)
        // Keras computed it in float32.
        let keras = try Self.number("keras205_sequential.h5", "learningRateAtSavedStep")
        #expect(abs(atSaved - keras) <= 1e-6 * keras)
    }

    /// `compare` reports the same training setup: Keras 2's `lr` and `decay` at each saved step
    /// (each era file against itself: the two are different models, which compare refuses to pair).
    @Test(arguments: ["keras205_sequential.h5", "keras224_bidirectional.h5"])
    func compareReportsKeras2Setups(_ file: String) throws {
        let step = try Self.number(file, "iterations"), keras = try Self.number(file, "learningRateAtSavedStep")
        let result = try CLI.run(["compare", "samples/era/\(file)", "samples/era/\(file)", "--format", "json"])
        #expect([0, 1].contains(result.status), "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let training = try #require(json["training"] as? [String: Any])
        for side in ["base", "tuned"] {
            let setup = try #require(training[side] as? [String: Any])
            #expect(setup["iterations"] as? Double == step)
            let rate = try #require(setup["learningRate"] as? [String: Any])
            #expect(rate["kind"] as? String == "TimeBasedDecay")
            let atSaved = try #require(rate["atSavedStep"] as? Double)
            #expect(abs(atSaved - keras) <= 1e-6 * keras, "\(atSaved) vs Keras's \(keras)")
            #expect(rate["initial"] as? Double == (try Self.number(file, "learningRateInitial")))
        }
    }

    /// A bare Keras 3 `.weights.h5` stores the learning rate as optimizer variable 1.
    @Test func scheduleReadsTheStoredRateOfABareWeightsFile() throws {
        let result = try CLI.run(["schedule", "samples/k3/pretrained.weights.h5", "--format", "json", "--steps", "0"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["kind"] as? String == "constant")
    }

    /// `inspect` lists weightless layers in model order (JSON: an empty weight list); the table
    /// folds a run of them.
    @Test func inspectListsWeightlessLayers() throws {
        let result = try CLI.run(["inspect", "--format", "json", "samples/era/k3_rnn.keras"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        let truth = try Self.layers("k3_rnn.keras")
        let weightless = truth.filter(\.weights.isEmpty)
        try #require(!weightless.isEmpty && weightless.count < truth.count)
        #expect(layers.compactMap { $0["name"] as? String } == truth.map(\.name))
        #expect(layers.filter { ($0["weights"] as? [Any])?.isEmpty == true }.compactMap { $0["className"] as? String }
                == weightless.map(\.className))
        let table = try CLI.run(["inspect", "samples/era/k3_rnn.keras"])
        #expect(table.stdout.contains("… \(weightless.count) layers without weights"))
        #expect(table.stdout.contains("total: \(truth.count - weightless.count) layers with weights (and \(weightless.count) without)"))
    }

    /// Weightless layers do not become new/removed layers in `compare`, nor count in coverage.
    @Test func compareIgnoresWeightlessLayersAsBefore() throws {
        let result = try CLI.run(["compare", "samples/era/k3_rnn.keras", "samples/era/k3_rnn.weights.h5", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.count == (try Self.layers("k3_rnn.keras")).filter { !$0.weights.isEmpty }.count)
        #expect(layers.allSatisfy { $0["status"] as? String == "frozen" }, "\(layers.map { $0["status"] ?? "" })")
    }

    /// `inspect --stats --format json`: every layer listed, stats on each layer with weights (the
    /// weightless ones in between must not shift them).
    @Test func statsStayWithTheirLayers() throws {
        let result = try CLI.run(["inspect", "--stats", "--format", "json", "samples/era/k3_rnn.keras"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        let truth = try Self.layers("k3_rnn.keras")
        #expect(layers.count == truth.count)
        for layer in layers {
            let weights = (layer["weights"] as? [[String: Any]]) ?? []
            #expect((layer["stats"] != nil) == !weights.isEmpty, "\(layer["name"] ?? "")")
            for weight in weights {
                let stats = try #require(weight["stats"] as? [String: Any], "\(layer["name"] ?? "")")
                #expect(stats["norm"] is Double)
            }
        }
        let dense = try #require(layers.last)
        let weights = try #require(dense["weights"] as? [[String: Any]])
        #expect(weights.compactMap { $0["name"] as? String } == truth.last?.weights)
    }

    /// No "0 variables" line when only the optimizer's config is stored.
    @Test func configOnlyOptimizerSaysSo() throws {
        let result = try CLI.run(["inspect", "samples/era/keras122_theano.h5"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("optimizer: Adam (config only: no optimizer state stored)"))
        #expect(!result.stdout.contains("0 variables"))
    }

    /// Identical files: cosine exactly 1 in the JSON report.
    @Test func identicalFilesReportCosineOne() throws {
        let result = try CLI.run(["compare", "samples/era/keras205_sequential.h5", "samples/era/keras205_sequential.h5", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.count == (try Self.layers("keras205_sequential.h5")).filter { !$0.weights.isEmpty }.count)
        for layer in layers {
            let cosine = (layer["cosine"] ?? (layer["metrics"] as? [String: Any])?["cosine"]) as? Double
            #expect(cosine == 1.0, "\(layer)")
        }
    }
}
