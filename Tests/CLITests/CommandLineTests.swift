import Foundation
import SampleFixtures
import Testing

/// The built binary: exit codes 0/1/2, stdout only the report, one line on stderr for bad input.
@Suite struct CommandLineTests {
    @Test(arguments: ["k3/pretrained.keras", "k3/pretrained.h5", "k3/pretrained.weights.h5", "tfk/pretrained.h5",
                      "tfk/pretrained_w.h5", "tfk/pretrained.keras", "k3/sharded/pretrained.weights.json"])
    func inspectPrintsJSONWithTheDocumentedFields(_ file: String) throws {
        let result = try CLI.run(["inspect", "--format", "json", Samples.path(file)])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["schemaVersion", "path", "format", "kerasVersion", "backend", "layers", "optimizer", "totalParameters"] {
            #expect(object.keys.contains(key), "\(key)")
        }
        let truth = try #require(Samples.manifest.files[file])
        #expect(object["format"] as? String == truth.format)
        let layers = try #require(object["layers"] as? [[String: Any]])
        // Layers with weights are the manifest's; weightless ones (Dropout, Flatten, …) are listed too.
        let weighted = layers.filter { !(($0["weights"] as? [Any]) ?? []).isEmpty }
        if object["layerOrder"] as? String == "model" {
            #expect(weighted.map { $0["name"] as? String } == truth.layers.map(\.name))
            #expect(layers.count > weighted.count)
        } else {  // a bare .weights.h5 or shard set: no model order, so no weightless layers either
            #expect(weighted.compactMap { $0["name"] as? String }.sorted() == truth.layers.map(\.name).sorted())
        }
        #expect(object["totalParameters"] as? Int == truth.parameterCount)
    }

    @Test func inspectTable() throws {
        let result = try CLI.run(["inspect", "samples/k3/pretrained.keras"])
        let truth = try #require(Samples.manifest.files["k3/pretrained.keras"])
        #expect(result.status == 0)
        for layer in truth.layers { #expect(result.stdout.contains(layer.name)) }
        #expect(result.stdout.contains("total: \(truth.layers.count) layers"))
    }

    @Test(arguments: [("k3/ft_lowlr.keras", Int32(0)), ("k3/ft_highlr.keras", 1), ("k3/ft_nan.keras", 1),
                      ("k3/pretrained.weights.h5", 0), ("tfk/ft_highlr.h5", 1)])
    func compareExitCodes(_ tuned: String, _ expected: Int32) throws {
        let base = tuned.hasPrefix("tfk") ? "samples/tfk/pretrained.h5" : "samples/k3/pretrained.keras"
        let result = try CLI.run(["compare", base, "samples/\(tuned)"])
        #expect(result.status == expected, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(expected == 0 ? "PASS" : "FAIL"))
    }

    @Test func jsonNamesTheInputsByPathFormatAndSHA256() throws {
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/tfk/pretrained.h5", "--format", "json", "--hash"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for (key, path, format) in [("base", "samples/k3/pretrained.keras", "keras-zip"), ("tuned", "samples/tfk/pretrained.h5", "legacy-h5")] {
            let input = try #require(object[key] as? [String: Any])
            #expect(input["path"] as? String == path)
            #expect(input["format"] as? String == format)
            // The digest coreutils computes for the same file.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            process.arguments = [Samples.path(String(path.dropFirst("samples/".count)))]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let digest = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
            process.waitUntilExit()
            #expect(input["sha256"] as? String == String(digest))
        }
    }

    /// Hashing is asked for (--hash); by default, and with --no-hash, the digests are null.
    @Test(arguments: [[], ["--no-hash"], ["--hash", "--no-hash"]])
    func withoutHashTheDigestsAreLeftOut(_ flags: [String]) throws {
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--format", "json"] + flags)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect((object["base"] as? [String: Any])?["sha256"] is NSNull)
        #expect((object["tuned"] as? [String: Any])?["sha256"] is NSNull)
    }

    @Test func thresholdFlagsChangeTheVerdict() throws {
        let strict = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras",
                                  "--fail-relative-change", "0.01"])
        #expect(strict.status == 1)
        let warnFails = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras",
                                     "--warn-relative-change", "0.001", "--fail-on-warn"])
        #expect(warnFails.status == 1)
    }

    @Test(arguments: ["json", "markdown", "junit", "github"])
    func everyFormatToAFile(_ format: String) throws {
        let out = try Samples.temporaryDirectory().appendingPathComponent("report.\(format)")
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras",
                                  "--format", format, "--output", out.path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("FAIL"))
        #expect(try Data(contentsOf: out).count > 100)
    }

    @Test func policyFile() throws {
        let folder = try Samples.temporaryDirectory()
        let policy = folder.appendingPathComponent("policy.yaml")
        try Data("rules:\n  - match: \"*\"\n    ignore: true\n".utf8).write(to: policy)
        // Everything ignored leaves nothing gated: the coverage rule fails the gate …
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--policy", policy.path])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stdout.contains("coverage: only 0.0% of the base's parameters compared"))
        // … unless the user accepts that explicitly.
        let accepted = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--policy", policy.path,
                                    "--min-coverage", "0"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        try Data("rules:\n  - match: \"*\"\n    ignored: true\n".utf8).write(to: policy)
        let bad = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--policy", policy.path])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("ignored"))
    }

    @Test(arguments: [
        ["compare", "samples/k3/pretrained.keras", "/no/such/file.h5"],
        ["inspect", "samples/bad/not_keras.h5"],
        ["inspect", "samples/bad/no_weights.keras"],
        ["inspect", "--stats", "samples/bad/blosc.weights.h5"],
        ["inspect", "samples/bad/missing_dataset.h5"],
        ["inspect", "samples"],
        ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--fail-cosine", "1.5"],
        ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--warn-relative-change", "nan"],
        ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--policy", "/no/policy.yaml"],
        ["compare", "samples/k3/pretrained.keras"],
        ["frobnicate"],
    ])
    func badInputOrUsageExitsTwoWithAClearError(_ arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("weightdrift: error: "))
        #expect(!result.stderr.contains("HDF5-DIAG"))
        if let file = arguments.first(where: { $0.contains("/") && !$0.hasSuffix("pretrained.keras") && !$0.hasSuffix("ft_lowlr.keras") }) {
            #expect(result.stderr.contains(file), "names \(file): \(result.stderr)")
        }
    }

    /// Files from other tools are named for what they are, with what to do instead.
    @Test(arguments: [("samples/bad/array.npy", "NumPy array file"), ("samples/bad/arrays.npz", "NumPy .npz archive"),
                      ("samples/bad/model.gguf", "GGUF model"), ("samples/bad/model.tflite", "TensorFlow Lite model")])
    func otherToolsFilesAreNamed(_ file: String, _ what: String) throws {
        let result = try CLI.run(["compare", file, "samples/k3/pretrained.keras"])
        #expect(result.status == 2)
        #expect(result.stderr.contains(file) && result.stderr.contains(what), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func truncatedFileIsOneLineOnStderr() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Samples.path("k3/pretrained.h5")))
        let path = try Samples.temporaryDirectory().appendingPathComponent("cut.h5")
        try data.prefix(data.count / 2).write(to: path)
        let result = try CLI.run(["compare", "samples/k3/pretrained.h5", path.path])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(path.path))
        #expect(!result.stderr.contains("HDF5-DIAG"))
    }

    @Test func statsFlagsNaN() throws {
        let nan = try CLI.run(["inspect", "--stats", "samples/k3/ft_nan.keras"])
        #expect(nan.status == 1)
        #expect(nan.stdout.contains("FAIL"))
        let fine = try CLI.run(["inspect", "--stats", "--format", "json", "samples/k3/pretrained.keras"])
        #expect(fine.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(fine.stdout.utf8)) as? [String: Any])
        #expect((object["health"] as? [String: Any])?["verdict"] as? String == "pass")
    }
}

/// `schedule` and `history` from the command line.
@Suite struct TrainingCommandTests {
    @Test func scheduleFromAConfigPrintsKerasValues() throws {
        let config = #"{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.001, "decay_steps": 1000, "decay_rate": 0.96, "staircase": true}}"#
        let result = try CLI.run(["schedule", "--config", config, "--steps", "0,1000,2000,3000"])
        #expect(result.status == 0, "\(result.stderr)")
        let values = result.stdout.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count == 2 && Int(fields[0]) != nil ? String(fields[1]) : nil
        }
        #expect(values == ["0.001", "0.00096", "0.0009216", "0.000884736"])
    }

    @Test func scheduleFromACheckpointShowsTheSavedStep() throws {
        let result = try CLI.run(["schedule", "samples/k3/ft_schedule.keras", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["kind"] as? String == "ExponentialDecay")
        let saved = try #require(json["savedStep"] as? Int)
        let steps = (json["values"] as? [[String: Any]])?.compactMap { $0["step"] as? Int } ?? []
        #expect(steps.contains(0) && steps.contains(saved))
    }

    @Test(arguments: [["schedule", "samples/edge/nested_tfk.h5"], ["schedule", "--config", "{"],
                      ["schedule", "--config", "{}", "--steps", "a,b"], ["schedule"],
                      ["history", "/no/log.csv"], ["history", "samples/manifest.json"], ["history", "x.csv", "--fail-on", "boredom"]])
    func badScheduleOrHistoryInputExitsTwo(_ arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stdout) \(result.stderr)")
        #expect(result.stderr.hasPrefix("weightdrift: error: "))
    }

    @Test func historyExitCodes() throws {
        #expect(try CLI.run(["history", "samples/logs/overfit.csv"]).status == 0)
        let overfit = try CLI.run(["history", "samples/logs/overfit.csv", "--fail-on", "overfitting"])
        #expect(overfit.status == 1)
        #expect(overfit.stdout.contains("overfitting from epoch"))
        #expect(try CLI.run(["history", "samples/logs/k3_ft_nan.csv", "--fail-on", "nan"]).status == 1)
        #expect(try CLI.run(["history", "samples/logs/k3_pretrained.csv", "--fail-on", "overfitting,nan"]).status == 0)
        let json = try CLI.run(["history", "samples/logs/overfit.csv", "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["overfittingFromEpoch"] as? Int == (object["bestEpoch"] as? Int).map { $0 + 1 })
    }

    @Test func malformedLogNamesTheLine() throws {
        let path = try Samples.temporaryDirectory().appendingPathComponent("log.csv")
        try Data("epoch,loss,val_loss\n0,1.0,1.1\n1,0.9\n".utf8).write(to: path)
        let result = try CLI.run(["history", path.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(path.path): line 3:"))
    }

    @Test func compareShowsTheSetupsAndWarns() throws {
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--format", "json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let training = try #require(json["training"] as? [String: Any])
        #expect((training["warnings"] as? [String])?.isEmpty == false)
        #expect((training["tuned"] as? [String: Any])?["optimizer"] as? String == "Adam")
        let nan = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_nan.keras"])
        #expect(nan.stdout.contains("first in model order: conv2d"))
    }
}

/// `trend` on the real epoch series (samples/k3/series, one .weights.h5 per epoch, as the
/// manifest's `series` lists them).
@Suite struct TrendCommandTests {
    static let truth = Samples.manifest.series
    static let base = "samples/\(truth.base)"
    static let series = truth.checkpoints.map { "samples/\($0)" }

    /// The manifest lists every checkpoint of the series folder, in epoch order.
    @Test func seriesIsEveryEpochOnDisk() throws {
        #expect(Self.truth.checkpoints == (try Samples.filesOnDisk(in: "k3/series", endingIn: [".weights.h5"])))
        #expect(Self.truth.checkpoints.count >= 3)
    }

    @Test func firstBreachIsWhereTheGeneratorMeasuredIt() throws {
        // The generator recorded (with numpy) the first epoch whose largest layer change passes the threshold.
        let expected = Self.truth.firstEpochOverThreshold
        let result = try CLI.run(["trend", Self.base] + Self.series + ["--fail-relative-change", "\(Self.truth.threshold)", "--format", "json"])
        #expect(result.status == 1, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let checkpoints = try #require(object["checkpoints"] as? [[String: Any]])
        #expect(checkpoints.count == Self.series.count)
        #expect((object["firstBreach"] as? [String: Any])?["index"] as? Int == expected)
        let verdicts = checkpoints.compactMap { $0["verdict"] as? String }
        #expect(verdicts == Array(repeating: "pass", count: expected - 1) + Array(repeating: "fail", count: Self.series.count - expected + 1))
        #expect(result.stderr.contains("stop before it"))
    }

    @Test func tableAndHTML() throws {
        let table = try CLI.run(["trend", Self.base] + Array(Self.series.prefix(Self.truth.firstEpochOverThreshold - 1))
                                 + ["--fail-relative-change", "\(Self.truth.threshold)"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("no checkpoint breaches the gate"))
        let html = try CLI.run(["trend", Self.base] + Self.series + ["--format", "html"])
        #expect(html.stdout.contains("<polyline"))
        #expect(!html.stdout.contains("<script"))
    }
}

/// An output that is not a regular file is written in place, never replaced by one.
@Suite struct SpecialOutputTests {
    /// A FIFO stands for /dev/null or a terminal (replacing those would need root in a test):
    /// the report must arrive through it, and it must still be a FIFO afterwards.
    @Test func aFIFOOutputIsWrittenInPlace() throws {
        let folder = try Samples.temporaryDirectory()
        let fifo = folder.appendingPathComponent("report.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let received = folder.appendingPathComponent("received.json")
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "cat \"$0\" > \"$1\"", fifo, received.path]
        try reader.run()
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras",
                                  "--format", "json", "--output", fifo])
        var info = stat()
        #expect(stat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO, "the FIFO was replaced")
        if reader.isRunning { reader.terminate() }  // nothing opened the FIFO to write
        reader.waitUntilExit()
        #expect(result.status == 1)
        #expect(try Data(contentsOf: received).count > 100)
    }
}
