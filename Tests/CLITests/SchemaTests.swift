import Foundation
import SampleFixtures
import Testing

/// Every report the samples produce validates against the published JSON Schemas
/// (Sources/Report/Schemas, draft 2020-12), checked by the `jsonschema` Python package through
/// tools/validate_reports.py (tools/test installs it).
@Suite struct SchemaTests {
    /// Every compare pair of the oracle list, plus the gate-trust pairs with nulls and failures.
    static func comparePairs() throws -> [(String, String)] {
        try Samples.oraclePairs().map { ("samples/\($0.base)", "samples/\($0.tuned)") } + [("samples/gate/era_k20_pretrained.h5", "samples/gate/era_tfk_ft_lowlr.h5"),
                  ("samples/gate/inf_base.weights.h5", "samples/k3/pretrained.weights.h5"),
                  ("samples/gate/int64_a.weights.h5", "samples/gate/int64_b.weights.h5"),
                  ("samples/k3/pretrained.keras", "samples/k3/ft_newhead.keras")]
    }

    func validate(_ kind: String, _ files: [URL]) throws {
        let result = try CLI.run(executable: "/usr/bin/env", ["python3", "tools/validate_reports.py", kind] + files.map(\.path))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("\(files.count) valid, 0 invalid\n"), "\(result.stdout)")
    }

    @Test func everyCompareReportValidates() throws {
        let pairs = try Self.comparePairs()
        try #require(pairs.count >= 30)
        let folder = try Samples.temporaryDirectory()
        var files: [URL] = []
        for (index, (base, tuned)) in pairs.enumerated() {
            for extra in [[], ["--fail-on-risk", "medium", "--min-coverage", "0.99"]] {
                let file = folder.appendingPathComponent("compare-\(index)-\(extra.count).json")
                let result = try CLI.run(["compare", base, tuned, "--report", "json=\(file.path)", "--format", "table"] + extra)
                #expect(result.status == 0 || result.status == 1, "\(base) \(tuned): \(result.stderr)")
                files.append(file)
            }
        }
        try validate("compare", files)
    }

    @Test func everyInspectReportValidates() throws {
        let samples = Samples.files + ["safetensors/dtypes.safetensors", "safetensors/ft_lowlr_f16.safetensors",
                                       "safetensors/sharded/model.safetensors.index.json"]
        try #require(samples.count > 3)
        let folder = try Samples.temporaryDirectory()
        var files: [URL] = []
        for (index, sample) in samples.enumerated() {
            for stats in [false, true] {
                let file = folder.appendingPathComponent("inspect-\(index)-\(stats).json")
                let result = try CLI.run(["inspect", Samples.path(sample), "--format", "json", "-o", file.path] + (stats ? ["--stats"] : []))
                #expect(result.status == 0 || result.status == 1, "\(sample): \(result.stderr)")
                files.append(file)
            }
        }
        try validate("inspect", files)
    }

    @Test func theSchemaCatchesABrokenReport() throws {
        let folder = try Samples.temporaryDirectory()
        let good = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras", "--format", "json"]).stdout
        // A relative change written as a string, and a pass that names a gate reason: both invalid.
        var object = try #require(try JSONSerialization.jsonObject(with: Data(good.utf8)) as? [String: Any])
        var layers = try #require(object["layers"] as? [[String: Any]])
        layers[0]["relativeChange"] = "0.05"
        object["layers"] = layers
        let broken = folder.appendingPathComponent("broken.json")
        try JSONSerialization.data(withJSONObject: object).write(to: broken)
        let result = try CLI.run(executable: "/usr/bin/env", ["python3", "tools/validate_reports.py", "compare", broken.path])
        #expect(result.status == 1)
        #expect(result.stdout.contains("layers/0/relativeChange"))
    }

    @Test func reportsCarryTheToolVersion() throws {
        let version = try CLI.run(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(try CLI.run(["inspect", "samples/k3/pretrained.keras", "--format", "json"]).stdout.utf8)) as? [String: Any])
        #expect((object["tool"] as? [String: Any])?["version"] as? String == version)
        #expect(!version.isEmpty)
    }
}
