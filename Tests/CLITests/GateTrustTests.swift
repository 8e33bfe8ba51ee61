import Foundation
import SampleFixtures
import Testing

/// A gate that cannot pass by accident (issue 10), on real Keras files: samples/ and samples/gate/
/// (written by tools/make_gate_samples.py).
@Suite struct GateTrustTests {
    func json(_ result: CLI.Result) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
    }

    func layers(_ object: [String: Any]) throws -> [[String: Any]] {
        try #require(object["layers"] as? [[String: Any]])
    }

    // MARK: coverage

    @Test func twoWeightlessFilesAreNothingToCompare() throws {
        let result = try CLI.run(["compare", "samples/gate/weightless.h5", "samples/gate/weightless.h5"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "weightdrift: error: samples/gate/weightless.h5, samples/gate/weightless.h5: neither file holds "
                + "any weights; there is nothing to compare\n")
    }

    @Test func coverageIsReportedInEveryFormat() throws {
        let args = ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_newhead.keras"]
        let object = try json(try CLI.run(args + ["--format", "json"]))
        let coverage = try #require(object["coverage"] as? [String: Any])
        let compared = try #require(coverage["comparedParameters"] as? Int), total = try #require(coverage["baseParameters"] as? Int)
        #expect(total == (object["base"] as? [String: Any])?["parameters"] as? Int)
        #expect(compared < total && compared > total / 2)  // a new head on an intact backbone
        #expect(coverage["fraction"] as? Double == Double(compared) / Double(total))
        let share = String(format: "%.1f%%", Double(compared) / Double(total) * 100)
        for format in ["table", "markdown", "html", "github"] {
            let result = try CLI.run(args + ["--format", format])
            #expect(result.status == 0, "\(format): a new head on an intact backbone passes")
            #expect(result.stdout.contains(share), "\(format)")
        }
        let junit = try CLI.run(args + ["--format", "junit"]).stdout
        #expect(junit.contains("<property name=\"coverage\" value=\"\(Double(compared) / Double(total))\"/>"))
    }

    @Test func coverageBelowTheMinimumFailsTheGateInEveryFormat() throws {
        let args = ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_newhead.keras", "--min-coverage", "0.99"]
        let object = try json(try CLI.run(args + ["--format", "json"]))
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["verdict"] as? String == "fail")
        let gate = try #require(summary["gate"] as? [[String: Any]])
        #expect(gate.map { $0["kind"] as? String } == ["coverage"])
        #expect(gate.first?["minimum"] as? Double == 0.99)
        let message = try #require(gate.first?["message"] as? String)
        #expect(message.hasPrefix("coverage: only "))
        let expectations: [(String, String)] = [
            ("table", message), ("markdown", message), ("html", "coverage: only "),
            ("github", ",title=weightdrift%3A coverage::coverage: only "),
            ("junit", "<failure message=\"coverage: only "),
        ]
        for (format, expected) in expectations {
            let result = try CLI.run(args + ["--format", format])
            #expect(result.status == 1, "\(format)")
            #expect(result.stdout.contains(expected), "\(format): \(result.stdout.prefix(400))")
        }
        let policy = try Samples.temporaryDirectory().appendingPathComponent("p.yaml")
        try Data("minCoverage: 0.99\n".utf8).write(to: policy)
        #expect(try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_newhead.keras", "--policy", policy.path]).status == 1)
    }

    // MARK: output paths

    @Test func outputNamingAnInputIsRefusedAndTheInputUntouched() throws {
        let folder = try Samples.temporaryDirectory()
        let tuned = folder.appendingPathComponent("tuned.keras")
        try FileManager.default.copyItem(atPath: "samples/k3/ft_lowlr.keras", toPath: tuned.path)
        let before = try Data(contentsOf: tuned)
        for output in [tuned.path, folder.appendingPathComponent("./tuned.keras").path] {
            let result = try CLI.run(["compare", "samples/k3/pretrained.keras", tuned.path, "-o", output])
            #expect(result.status == 2)
            #expect(result.stderr.contains("refusing to overwrite a checkpoint"))
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
        let link = folder.appendingPathComponent("link.keras")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: tuned.path)
        #expect(try CLI.run(["compare", "samples/k3/pretrained.keras", tuned.path, "-o", link.path]).status == 2)
        #expect(try Data(contentsOf: tuned) == before)
    }

    @Test func outputInAMissingFolderIsAUsageError() throws {
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "-o", "/nonexistent-dir/r.json"])
        #expect(result.status == 2)
        #expect(result.stderr == "weightdrift: error: /nonexistent-dir/r.json: --output folder /nonexistent-dir does not exist\n")
    }

    @Test(arguments: [("json", "{"), ("html", "<!DOCTYPE html>"), ("md", "## "), ("xml", "<?xml")])
    func formatFollowsTheOutputExtension(_ extension_: String, _ start: String) throws {
        let out = try Samples.temporaryDirectory().appendingPathComponent("report.\(extension_)")
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "-o", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOf: out, encoding: .utf8).hasPrefix(start))
    }

    // MARK: pairing across Keras eras

    /// The base renamed the way Keras 2.0 counted layers (`conv1d_1` first), the fine-tune as
    /// tf-keras saved it (`conv1d` first): every layer pairs with its real partner, and the figures
    /// are exactly those of the same pair under one naming.
    @Test func counterOffsetBetweenErasPairsTheRealPartners() throws {
        let era = try json(try CLI.run(["compare", "samples/gate/era_k20_pretrained.h5", "samples/gate/era_tfk_ft_lowlr.h5",
                                        "--format", "json"]))
        let same = try json(try CLI.run(["compare", "samples/gate/era_tfk_pretrained.h5", "samples/gate/era_tfk_ft_lowlr.h5",
                                         "--format", "json"]))
        let eraLayers = try layers(era), sameLayers = try layers(same)
        #expect(eraLayers.count == sameLayers.count)
        #expect(eraLayers.count >= 8)
        for (a, b) in zip(eraLayers, sameLayers) {
            #expect(a["tunedName"] as? String == b["tunedName"] as? String)
            #expect(a["matchedBy"] as? String == "counter-offset", "\(a["name"] ?? "")")
            #expect(a["relativeChange"] as? Double == b["relativeChange"] as? Double, "\(a["name"] ?? "")")
            #expect(a["status"] as? String == b["status"] as? String)
        }
        // The base's names are the tuned ones with every counter one higher.
        for layer in eraLayers {
            let tuned = try #require(layer["tunedName"] as? String), base = try #require(layer["baseName"] as? String)
            let parts = tuned.split(separator: "_")
            let expected = Int(parts.last!).map { "\(parts.dropLast().joined(separator: "_"))_\($0 + 1)" } ?? "\(tuned)_1"
            #expect(base == expected)
        }
        let notes = try #require(era["notes"] as? [String])
        #expect(notes.contains { $0.hasPrefix("layer counters differ by -1 between the files") })
        #expect(notes.contains { $0.hasPrefix("exact layer names disagree with the model structure") })
        #expect((era["summary"] as? [String: Any])?["verdict"] as? String == "pass")
        // Exact names alone join same-shaped layers at other depths: the failure the structural
        // alignment prevents.
        let byName = try CLI.run(["compare", "samples/gate/era_k20_pretrained.h5", "samples/gate/era_tfk_ft_lowlr.h5",
                                  "--match", "name"])
        #expect(byName.status == 1)
    }

    /// A rebuilt model (names shifted within one era, shapes all distinct) keeps pairing by name.
    @Test func namesThatAgreeWithTheStructureStay() throws {
        let object = try json(try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--format", "json"]))
        #expect(try layers(object).allSatisfy { $0["matchedBy"] as? String == "name" })
        #expect((object["notes"] as? [String])?.isEmpty == true)
    }

    // MARK: honest numbers

    @Test func allNaNLayersHaveNoFiguresInAnyFormat() throws {
        let args = ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_nan.keras"]
        let object = try json(try CLI.run(args + ["--format", "json"]))
        let undefined = try layers(object).filter { $0["finiteCount"] as? Int == 0 }
        #expect(!undefined.isEmpty)
        for layer in undefined {
            for key in ["relativeChange", "baseNorm", "tunedNorm", "maxAbsChange", "rmsChange", "cosine"] {
                #expect(layer[key] is NSNull, "\(layer["name"] ?? "") \(key)")
            }
            #expect(layer["status"] as? String == "fail")
        }
        let markdown = try CLI.run(args + ["--format", "markdown"]).stdout
        let name = try #require(undefined.first?["name"] as? String)
        let row = try #require(markdown.split(separator: "\n").first { $0.hasPrefix("| \(name) |") })
        #expect(row.contains("| NaN | NaN | NaN |"), "\(row)")
        let stats = try json(try CLI.run(["inspect", "--stats", "--format", "json", "samples/k3/ft_nan.keras"]))
        let statLayers = try #require(stats["layers"] as? [[String: Any]])
        let allNaN = statLayers.filter { (($0["stats"] as? [String: Any])?["nanCount"] as? Int ?? 0) > 0 }
        #expect(!allNaN.isEmpty)
    }

    @Test func infiniteBaseIsAFindingNotAPass() throws {
        let result = try CLI.run(["compare", "samples/gate/inf_base.weights.h5", "samples/k3/pretrained.weights.h5", "--format", "json"])
        #expect(result.status == 1)
        let object = try json(result)
        let dense = try #require(try layers(object).first { $0["name"] as? String == "dense" })
        #expect(dense["status"] as? String == "fail")
        // The kernel is all +Inf: its figures are undefined (the layer's cover its finite bias only).
        let kernel = try #require((dense["weights"] as? [[String: Any]])?.first { $0["name"] as? String == "kernel" })
        #expect(kernel["relativeChange"] is NSNull)
        #expect(kernel["finiteCount"] as? Int == 0)
        #expect((dense["baseInfCount"] as? Int ?? 0) > 0)
        #expect((dense["reasons"] as? [String])?.contains { $0.contains("Inf values in the base checkpoint") } == true)
    }

    @Test func int64ValuesAbove2To53AreComparedByTheirBits() throws {
        let object = try json(try CLI.run(["compare", "samples/gate/int64_a.weights.h5", "samples/gate/int64_b.weights.h5",
                                           "--format", "json"]))
        let lookup = try #require(try layers(object).first { $0["name"] as? String == "lookup" })
        #expect(lookup["frozen"] as? Bool == false)
        #expect(lookup["changedFraction"] as? Double == 1.0 / 24)
        #expect(lookup["status"] as? String != "frozen")
    }

    // MARK: one decision in every format

    @Test func riskGateIsTheSameFailureInEveryFormat() throws {
        let args = ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_newhead.keras"]
        let object = try json(try CLI.run(args + ["--format", "json"]))
        let risk = try #require((object["forgetting"] as? [String: Any])?["risk"] as? String)
        #expect(risk == "high")
        // Passing with a high risk: the headline says both.
        for format in ["table", "markdown", "html"] {
            let result = try CLI.run(args + ["--format", format])
            #expect(result.status == 0)
            #expect(result.stdout.lowercased().contains("pass, but forgetting risk high"), "\(format)")
        }
        let gated = args + ["--fail-on-risk", "high"]
        let expectations: [(String, String)] = [
            ("table", "forgetting risk high (the policy fails from high)"),
            ("markdown", "**Why the gate failed:**\n\n- forgetting risk high"),
            ("html", "<header class=\"fail\"><h1>WeightDrift: fail</h1>"),
            ("github", ",title=weightdrift%3A forgetting risk::forgetting risk high"),
            ("junit", "<failure message=\"forgetting risk high (the policy fails from high)\" type=\"forgettingRisk\">"),
        ]
        for (format, expected) in expectations {
            let result = try CLI.run(gated + ["--format", format])
            #expect(result.status == 1, "\(format)")
            #expect(result.stdout.contains(expected), "\(format): \(result.stdout.prefix(300))")
        }
        let junit = try CLI.run(gated + ["--format", "junit"]).stdout
        #expect(!junit.contains("failures=\"0\""))
        #expect(!(try CLI.run(gated + ["--format", "github"]).stdout.contains("title=weightdrift forgetting risk")))
    }

    // MARK: no silent no-ops

    @Test func aPolicyRuleThatMatchesNothingIsAUsageError() throws {
        let policy = try Samples.temporaryDirectory().appendingPathComponent("p.yaml")
        try Data("rules:\n  - match: \"conv2d\"\n    frozen: true\n  - match: \"encoder*\"\n    frozen: true\n".utf8).write(to: policy)
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--policy", policy.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("policy rule 2 (match: 'encoder*') matches no layer or weight in either file"))
    }

    @Test func aHeadGlobThatMatchesNothingIsAUsageError() throws {
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--head", "nosuchlayer"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("head glob 'nosuchlayer' matches no layer"))
    }

    @Test(arguments: [["--warn-relative-change", "0.3", "--fail-relative-change", "0.2"],
                      ["--warn-cosine", "0.9", "--fail-cosine", "0.95"]])
    func warnLooserThanFailIsAUsageError(_ flags: [String]) throws {
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras"] + flags)
        #expect(result.status == 2)
        #expect(result.stderr.contains("must not be"))
    }

    @Test func aStricterFailAloneTakesWarnDownWithIt() throws {
        let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--fail-relative-change", "0.04",
                                  "--format", "json"])
        #expect(result.status == 1)
        let thresholds = try #require(try json(result)["thresholds"] as? [String: Any])
        #expect((thresholds["warn"] as? [String: Any])?["relativeChange"] as? Double == 0.04)
    }

    // MARK: order and notes

    /// A bare `.weights.h5` stores no model order: rows follow the base's.
    @Test func depthOrderComesFromTheFileThatStoresIt() throws {
        let ordered = try json(try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--format", "json"]))
        let mixed = try json(try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.weights.h5", "--format", "json"]))
        let names = { (o: [String: Any]) in try self.layers(o).map { $0["name"] as? String ?? "" } }
        #expect(try names(mixed) == names(ordered))
        let profile = { (o: [String: Any]) in ((o["forgetting"] as? [String: Any])?["profile"] as? [[String: Any]] ?? []).map { $0["name"] as? String ?? "" } }
        #expect(profile(mixed) == profile(ordered))
        #expect((mixed["notes"] as? [String])?.contains("rows and the depth profile follow the model order stored in samples/k3/pretrained.keras") == true)
    }

    @Test func identicalWeightsGetANoteAndNoSetupWarnings() throws {
        let result = try CLI.run(["compare", "samples/k3/ft_highlr.keras", "samples/k3/ft_highlr.keras", "--format", "json"])
        #expect(result.status == 0)
        let object = try json(result)
        #expect(((object["training"] as? [String: Any])?["warnings"] as? [Any])?.isEmpty == true)
        #expect((object["notes"] as? [String])?.contains { $0.hasPrefix("the two checkpoints hold identical weights") } == true)
        #expect(try layers(object).allSatisfy { $0["cosine"] as? Double == 1 })
    }
}
