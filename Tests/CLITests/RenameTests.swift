import Foundation
import SampleFixtures
import Testing

/// The policy's `rename:` rules and `--rename`, on a real fine-tune whose modules and weights were
/// renamed the way a PyTorch port names them (samples/rename/, written by
/// tools/make_rename_samples.py from samples/k3/ft_lowlr.h5 with its values untouched).
@Suite struct RenameTests {
    static let base = "samples/k3/pretrained.h5"
    static let original = "samples/k3/ft_lowlr.h5"
    static let renamed = "samples/rename/ft_lowlr_torchnames.h5"

    /// Layer renames alone: `features.0/` → `conv2d/`, …
    static let layerRules = """
        - {match: '^features\\.0/', replace: 'conv2d/'}
        - {match: '^features\\.1/', replace: 'batch_normalization/'}
        - {match: '^features\\.3/', replace: 'conv2d_1/'}
        - {match: '^classifier\\.0/', replace: 'dense/'}
        - {match: '^classifier\\.2/', replace: 'dense_1/'}
    """
    /// Weight renames first (BatchNormalization's own names before the generic `weight` → `kernel`).
    static let weightRules = """
        - {match: '^features\\.1/weight$', replace: 'features.1/gamma'}
        - {match: '^features\\.1/bias$', replace: 'features.1/beta'}
        - {match: '/running_(mean|var)$', replace: '/moving_$1'}
        - {match: '/moving_var$', replace: '/moving_variance'}
        - {match: '/weight$', replace: '/kernel'}
    """

    func policy(_ text: String) throws -> String {
        let file = try Samples.temporaryDirectory().appendingPathComponent("policy.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func renamePolicy(_ rules: String) throws -> String {
        try policy("rename:\n  tuned:\n" + rules + "\n")
    }

    func json(_ arguments: [String]) throws -> (status: Int32, object: [String: Any]) {
        let result = try CLI.run(arguments + ["--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        return (result.status, object)
    }

    func layers(_ object: [String: Any]) throws -> [[String: Any]] {
        try #require(object["layers"] as? [[String: Any]])
    }

    func error(_ arguments: [String]) throws -> String {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(result.stdout)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("weightdrift: error: "))
        #expect(result.stderr.filter { $0 == "\n" }.count == 1, "one line: \(result.stderr)")
        return result.stderr
    }

    @Test func withoutRulesTheRenamedModulesDoNotPairByName() throws {
        let message = try error(["compare", Self.base, Self.renamed, "--match", "name"])
        #expect(message.contains("no layer could be paired"))
    }

    @Test func renamedModulesCompareExactlyLikeTheOriginalNames() throws {
        let reference = try json(["compare", Self.base, Self.original])
        let path = try renamePolicy(Self.weightRules + "\n" + Self.layerRules)
        let viaRename = try json(["compare", Self.base, Self.renamed, "--policy", path, "--match", "name"])
        #expect(viaRename.status == reference.status)
        let expected = try layers(reference.object), actual = try layers(viaRename.object)
        try #require(expected.count == 5)
        #expect(actual.count == expected.count)
        for layer in expected {
            let name = try #require(layer["name"] as? String)
            let other = try #require(actual.first { $0["baseName"] as? String == name }, "\(name)")
            #expect(other["matchedBy"] as? String == "renamed", "\(name)")
            #expect(other["tunedName"] as? String != name)
            #expect(other["status"] as? String == layer["status"] as? String, "\(name)")
            // A layer's sums add its weights in the tuned file's order, which the rename sample
            // changed: equal to rounding.
            for key in ["relativeChange", "cosine", "maxAbsChange", "rmsChange", "changedFraction", "angleDegrees"] {
                let a = try #require(other[key] as? Double, "\(name).\(key)"), b = try #require(layer[key] as? Double)
                #expect(abs(a - b) <= 1e-12 * abs(b), "\(name).\(key)")
            }
            // Weight by weight, by the base's dataset path: renamed weights pair with their originals.
            let weights = try #require(layer["weights"] as? [[String: Any]]), otherWeights = try #require(other["weights"] as? [[String: Any]])
            #expect(otherWeights.count == weights.count)
            for weight in weights {
                let match = otherWeights.first { $0["basePath"] as? String == weight["basePath"] as? String }
                #expect(match?["relativeChange"] as? Double == weight["relativeChange"] as? Double, "\(name)/\(weight["name"] ?? "")")
                #expect(match?["status"] as? String == weight["status"] as? String)
            }
        }
        let summary = try #require(viaRename.object["summary"] as? [String: Any]), expectedSummary = try #require(reference.object["summary"] as? [String: Any])
        #expect(summary["forgettingRisk"] as? String == expectedSummary["forgettingRisk"] as? String)
        #expect((viaRename.object["forgetting"] as? [String: Any])?["score"] as? Double
                == (reference.object["forgetting"] as? [String: Any])?["score"] as? Double)
        let rules = try #require((viaRename.object["thresholds"] as? [String: Any])?["rename"] as? [[String: Any]])
        #expect(rules.count == 10 && rules.allSatisfy { $0["side"] as? String == "tuned" })
        #expect(rules.first?["match"] as? String == "^features\\.1/weight$")
        #expect((reference.object["thresholds"] as? [String: Any])?["rename"] == nil, "no rules, no field")
        let notes = try #require(viaRename.object["notes"] as? [String])
        #expect(notes.contains { $0.hasPrefix("5 layers paired through the rename rules") })
    }

    @Test func baseSideRulesRenameTheBase() throws {
        // The renamed file holds ft_lowlr's values: renamed back on the base side, every layer is frozen.
        let path = try policy("rename:\n  base:\n" + Self.weightRules + "\n" + Self.layerRules + "\n")
        let (status, object) = try json(["compare", Self.renamed, Self.original, "--policy", path, "--match", "name"])
        #expect(status == 0)
        let rows = try layers(object)
        #expect(rows.count == 5)
        #expect(rows.allSatisfy { $0["matchedBy"] as? String == "renamed" && $0["status"] as? String == "frozen" })
        #expect(rows.allSatisfy { ($0["baseName"] as? String)?.contains(".") == true && ($0["name"] as? String)?.contains(".") == false })
    }

    @Test func everyFormatSaysWhichPairsCameFromARename() throws {
        let path = try renamePolicy(Self.weightRules + "\n" + Self.layerRules)
        let args = ["compare", Self.base, Self.renamed, "--policy", path]
        for format in ["table", "markdown", "html", "github", "junit"] {
            let result = try CLI.run(args + ["--format", format])
            #expect(result.status == 0, "\(format): \(result.stderr)")
            #expect(result.stdout.contains("paired through the rename rules"), "\(format)")
        }
        let table = try CLI.run(args).stdout
        #expect(table.split(separator: "\n").filter { $0.contains(" renamed ") }.count == 5)
    }

    @Test func layerRenamesAloneLeaveWeightsPairedByPositionAndShapesDisagree() throws {
        // The renamed file stores each layer's weights sorted by name (bias before weight), so
        // without the weight rules a kernel meets a bias: those layers are reshaped, not compared.
        let (status, object) = try json(["compare", Self.base, Self.renamed, "--policy", try renamePolicy(Self.layerRules)])
        #expect(status == 1)
        let rows = try layers(object)
        #expect(rows.allSatisfy { $0["matchedBy"] as? String == "renamed" })
        for name in ["conv2d", "conv2d_1", "dense", "dense_1"] {
            #expect(rows.first { $0["baseName"] as? String == name }?["status"] as? String == "reshaped", "\(name)")
        }
    }

    @Test func theRenameFlagMatchesThePolicySection() throws {
        let rules: [(String, String)] = [("^features\\.0/", "conv2d/"), ("^features\\.3/", "conv2d_1/"), ("/weight$", "/kernel")]
        let yaml = rules.map { "    - {match: '\($0.0)', replace: '\($0.1)'}" }.joined(separator: "\n")
        let fromPolicy = try json(["compare", Self.base, Self.renamed, "--policy", try renamePolicy(yaml)])
        let fromFlags = try json(["compare", Self.base, Self.renamed] + rules.flatMap { ["--rename", "\($0.0)=\($0.1)"] })
        #expect(fromFlags.status == fromPolicy.status)
        let a = try layers(fromPolicy.object), b = try layers(fromFlags.object)
        #expect(a.map { $0["name"] as? String } == b.map { $0["name"] as? String })
        #expect(a.map { $0["matchedBy"] as? String } == b.map { $0["matchedBy"] as? String })
        #expect(a.filter { $0["matchedBy"] as? String == "renamed" }.count == 2)
        #expect(a.map { $0["relativeChange"] as? Double } == b.map { $0["relativeChange"] as? Double })
    }

    @Test func aRenamedLayerWithoutPartnerIsANote() throws {
        let (_, object) = try json(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--rename", "^dense_1/=head/"])
        let notes = try #require(object["notes"] as? [String])
        #expect(notes.contains { $0.contains("'dense_1' → 'head'") }, "\(notes)")
    }

    @Test func aBadRegularExpressionIsAUsageErrorNamingTheRule() throws {
        let path = try renamePolicy("    - {match: '^features\\.(0/', replace: 'conv2d/'}")
        let message = try error(["compare", Self.base, Self.renamed, "--policy", path])
        #expect(message.contains("rename.tuned[0]"))
        #expect(message.contains("^features\\.(0/"))
        #expect(message.contains("not a valid regular expression"))
        let flag = try error(["compare", Self.base, Self.renamed, "--rename", "[a-=b"])
        #expect(flag.contains("--rename '[a-=b'"))
    }

    @Test func aRuleThatMatchesNothingIsAUsageError() throws {
        let path = try renamePolicy(Self.layerRules + "\n    - {match: '^encoder\\.', replace: 'x.'}")
        let message = try error(["compare", Self.base, Self.renamed, "--policy", path])
        #expect(message.contains("rename.tuned[5]"))
        #expect(message.contains("matches no layer/weight path in the tuned file"))
        // A rule for the base side is checked against the base's paths.
        let baseSide = try error(["compare", Self.base, Self.renamed, "--policy", try policy("rename:\n  base:\n    - {match: '^features', replace: 'x'}\n")])
        #expect(baseSide.contains("rename.base[0]"))
    }

    @Test func twoLayersRenamedOntoOneNameIsAUsageErrorNamingBoth() throws {
        let path = try renamePolicy("    - {match: '^features\\.[03]/', replace: 'conv/'}")
        let message = try error(["compare", Self.base, Self.renamed, "--policy", path])
        #expect(message.contains("'features.0'") && message.contains("'features.3'") && message.contains("'conv'"), "\(message)")
        // Onto a name the file already has.
        let existing = try error(["compare", Self.base, Self.renamed, "--rename", "^features\\.0/=features.1/"])
        #expect(existing.contains("'features.0'") && existing.contains("'features.1'"), "\(existing)")
    }

    @Test(arguments: [
        ("    - {match: '^features\\.0/bias$', replace: 'elsewhere/bias'}", "split layer 'features.0'"),
        ("    - {match: '/.*$', replace: ''}", "which is not a layer/weight path"),
        ("    - {match: '/weight$', replace: '/bias'}", "give two weights of layer"),
        ("    - {match: 'x', replace: 'y', side: tuned}", "unknown key side"),
        ("    - {match: 'x'}", "both required"),
    ])
    func malformedRenamesAreUsageErrors(_ rule: String, _ expected: String) throws {
        let message = try error(["compare", Self.base, Self.renamed, "--policy", try renamePolicy(rule)])
        #expect(message.contains(expected), "\(message)")
    }

    @Test func tooManyRulesAreRefused() throws {
        let rules = (0...1000).map { "    - {match: '^zz\($0)/', replace: 'y/'}" }.joined(separator: "\n")
        let message = try error(["compare", Self.base, Self.renamed, "--policy", try renamePolicy(rules)])
        #expect(message.contains("1001 rename rules"), "\(message)")
    }

    @Test func renamedReportsValidateAgainstTheSchema() throws {
        let folder = try Samples.temporaryDirectory()
        let file = folder.appendingPathComponent("renamed.json")
        let path = try renamePolicy(Self.weightRules + "\n" + Self.layerRules)
        let result = try CLI.run(["compare", Self.base, Self.renamed, "--policy", path, "--fail", "maxAbsChange=0.5",
                                  "--report", "json=\(file.path)"])
        #expect(result.status == 0, "\(result.stderr)")
        let check = try CLI.run(executable: "/usr/bin/env", ["python3", "tools/validate_reports.py", "compare", file.path])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.hasSuffix("1 valid, 0 invalid\n"), "\(check.stdout)")
    }
}
