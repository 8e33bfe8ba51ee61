import Foundation
import SampleFixtures
import Testing

/// What a user sees for the era samples (tools/make_era_samples.py) and for inputs that are not
/// Keras checkpoints.
@Suite struct EraCLITests {
    /// File → the words its error must contain, for the inputs that are not checkpoints.
    static let errors: [String: String] = {
        let data = try! Data(contentsOf: Samples.directory.appendingPathComponent("era/truth.json"))
        let truth = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        return truth.compactMapValues { ($0 as? [String: Any])?["error"] as? String }
    }()

    static var notCheckpoints: [String] { errors.keys.sorted() }

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
        #expect(json["savedStep"] as? Int == 150)
        let values = try #require(json["values"] as? [[String: Any]])
        let at150 = try #require(values.first { $0["step"] as? Int == 150 }?["learningRate"] as? Double)
        #expect(abs(at150 - 0.009999999776482582 / (1 + 9.999999747378752e-05 * 150)) < 1e-12)
    }

    /// `compare` reports the same training setup: Keras 2's `lr` and `decay` at each saved step
    /// (each era file against itself: the two are different models, which compare refuses to pair).
    @Test(arguments: [("samples/era/keras205_sequential.h5", 150.0, 0.009999999776482582, 9.999999747378752e-05),
                      ("samples/era/keras224_bidirectional.h5", 40.0, 0.0010000000474974513, 0.0010000000474974513)])
    func compareReportsKeras2Setups(_ file: String, _ step: Double, _ initial: Double, _ decay: Double) throws {
        let result = try CLI.run(["compare", file, file, "--format", "json"])
        #expect([0, 1].contains(result.status), "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let training = try #require(json["training"] as? [String: Any])
        for side in ["base", "tuned"] {
            let setup = try #require(training[side] as? [String: Any])
            #expect(setup["iterations"] as? Double == step)
            let rate = try #require(setup["learningRate"] as? [String: Any])
            #expect(rate["kind"] as? String == "TimeBasedDecay")
            let atSaved = try #require(rate["atSavedStep"] as? Double)
            #expect(abs(atSaved - initial / (1 + decay * step)) < 1e-15)
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
        #expect(layers.compactMap { $0["name"] as? String }
                == ["lstm", "gru", "bidirectional", "time_distributed", "dropout", "flatten", "dense_1"])
        #expect(layers.filter { ($0["weights"] as? [Any])?.isEmpty == true }.compactMap { $0["className"] as? String }
                == ["Dropout", "Flatten"])
        let table = try CLI.run(["inspect", "samples/era/k3_rnn.keras"])
        #expect(table.stdout.contains("… 2 layers without weights"))
        #expect(table.stdout.contains("total: 5 layers with weights (and 2 without)"))
    }

    /// Weightless layers do not become new/removed layers in `compare`, nor count in coverage.
    @Test func compareIgnoresWeightlessLayersAsBefore() throws {
        let result = try CLI.run(["compare", "samples/era/k3_rnn.keras", "samples/era/k3_rnn.weights.h5", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.count == 5)
        #expect(layers.allSatisfy { $0["status"] as? String == "frozen" }, "\(layers.map { $0["status"] ?? "" })")
    }

    /// `inspect --stats --format json`: every layer listed, stats on each layer with weights (the
    /// weightless ones in between must not shift them).
    @Test func statsStayWithTheirLayers() throws {
        let result = try CLI.run(["inspect", "--stats", "--format", "json", "samples/era/k3_rnn.keras"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(json["layers"] as? [[String: Any]])
        #expect(layers.count == 7)
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
        #expect(weights.compactMap { $0["name"] as? String } == ["kernel", "bias"])
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
        #expect(layers.count == 2)
        for layer in layers {
            let cosine = (layer["cosine"] ?? (layer["metrics"] as? [String: Any])?["cosine"]) as? Double
            #expect(cosine == 1.0, "\(layer)")
        }
    }
}
