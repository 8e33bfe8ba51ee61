import Foundation
import SampleFixtures
import Testing

/// `inspect` and `compare` on safetensors files, single and sharded, and against the Keras
/// checkpoints they were written from.
@Suite struct SafetensorsCLITests {
    func json(_ arguments: [String]) throws -> [String: Any] {
        let result = try CLI.run(arguments + ["--format", "json"])
        #expect(result.status == 0 || result.status == 1, "\(arguments): \(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// Per layer: name → relative change, cosine, changed fraction.
    func figures(_ report: [String: Any]) throws -> [String: [Double]] {
        let layers = try #require(report["layers"] as? [[String: Any]])
        var out: [String: [Double]] = [:]
        for layer in layers {
            let name = try #require(layer["name"] as? String)
            out[name] = ["relativeChange", "cosine", "changedFraction"].compactMap { layer[$0] as? Double }
        }
        return out
    }

    @Test(arguments: [("samples/safetensors/dtypes.safetensors", "safetensors"),
                      ("samples/safetensors/sharded/model.safetensors.index.json", "safetensors-sharded")])
    func inspectShowsFormatLayersAndMetadata(_ path: String, _ format: String) throws {
        let report = try json(["inspect", path])
        #expect(report["format"] as? String == format)
        #expect(report["layerOrder"] as? String == "path")
        let metadata = try #require(report["metadata"] as? [String: String])
        #expect(!metadata.isEmpty)
        let table = try CLI.run(["inspect", path])
        #expect(table.status == 0)
        for (key, value) in metadata { #expect(table.stdout.contains(key) && table.stdout.contains(value), "\(key)") }
    }

    /// The safetensors pair, the sharded tuned side, and either side swapped for its Keras file
    /// all give the Keras pair's numbers exactly.
    @Test(arguments: [("samples/safetensors/pretrained.safetensors", "samples/safetensors/ft_lowlr.safetensors"),
                      ("samples/safetensors/pretrained.safetensors", "samples/safetensors/sharded/model.safetensors.index.json"),
                      ("samples/k3/pretrained.keras", "samples/safetensors/ft_lowlr.safetensors"),
                      ("samples/safetensors/pretrained.safetensors", "samples/k3/ft_lowlr.h5")])
    func compareGivesTheKerasPairsNumbers(_ base: String, _ tuned: String) throws {
        let keras = try figures(json(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras"]))
        let report = try json(["compare", base, tuned])
        #expect(try figures(report) == keras)
        #expect(keras.count == 5)
        let summary = try #require(report["summary"] as? [String: Any])
        #expect(summary["verdict"] as? String == "pass")
    }

    @Test func brokenHeaderExitsTwoWithOneLine() throws {
        let result = try CLI.run(["compare", "samples/safetensors/pretrained.safetensors", "samples/safetensors/bad/overlap.safetensors"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(result.stderr.contains("samples/safetensors/bad/overlap.safetensors: b: "))
    }

    /// A float16 export with Hugging Face-style names (`model.conv2d/weight`) against the Keras
    /// checkpoint it was written from: two rename rules pair every layer (`renamed`), the whole
    /// base is compared, and the only drift is float16 rounding — round to nearest moves each
    /// normal value by at most 2^-11 of itself, so no layer's relative change can exceed that.
    @Test func float16ExportPairsWithItsKerasFileThroughRenameRules() throws {
        let report = try json(["compare", "samples/k3/ft_lowlr.keras", "samples/safetensors/ft_lowlr_f16.safetensors",
                               "--rename", "^model\\.(.*)$=$1", "--rename", "/weight$=/kernel"])
        let layers = try #require(report["layers"] as? [[String: Any]])
        let keras = try figures(json(["compare", "samples/k3/ft_lowlr.keras", "samples/k3/ft_lowlr.keras"]))
        #expect(layers.count == keras.count)
        for layer in layers {
            #expect(layer["matchedBy"] as? String == "renamed", "\(layer["name"] ?? "?")")
            let change = try #require(layer["relativeChange"] as? Double)
            #expect(change > 0 && change <= 0x1p-11, "\(layer["name"] ?? "?"): \(change)")
        }
        let coverage = try #require(report["coverage"] as? [String: Any])
        #expect(coverage["fraction"] as? Double == 1)
        // Without the rules only the weights Keras and PyTorch name alike pair: the gate fails on coverage.
        let plain = try json(["compare", "samples/k3/ft_lowlr.keras", "samples/safetensors/ft_lowlr_f16.safetensors"])
        let plainCoverage = try #require(plain["coverage"] as? [String: Any])
        #expect(try #require(plainCoverage["fraction"] as? Double) < 0.5)
        #expect((plain["summary"] as? [String: Any])?["verdict"] as? String == "fail")
    }
}
