import Checkpoint
import Drift
import Foundation
import SampleFixtures
import Testing

/// Agreement with the float64 h5py + numpy oracle (`tools/reference_drift.py`), whose output on
/// the sample pairs is recorded in `samples/expected/oracle.json` by that tool.
@Suite struct OracleTests {
    static let oracle: JSONValue = {
        let url = Samples.directory.appendingPathComponent("expected/oracle.json")
        guard let data = try? Data(contentsOf: url), let json = JSONValue.parse(data) else {
            fatalError("samples/expected/oracle.json is missing: run tools/reference_drift.py --pairs …")
        }
        return json
    }()

    static var pairs: [String] {
        (oracle["pairs"]?.array ?? []).compactMap { pair in
            guard let base = pair["base"]?.string, let tuned = pair["tuned"]?.string else { return nil }
            return "\(base) \(tuned)"
        }
    }

    /// The oracle recorded every pair of tools/oracle_pairs.txt, the list the test below runs.
    @Test func oracleHasEveryListedPair() throws {
        let listed = try Samples.oraclePairs().map { "\($0.base) \($0.tuned)" }
        #expect(!listed.isEmpty)
        #expect(Self.pairs.sorted() == listed.sorted())
    }

    /// Relative agreement, with an absolute floor for values that are 0 in one and ~1e-17 in the other.
    func close(_ a: Double?, _ b: Double?, _ what: String) {
        switch (a, b) {
        case (nil, nil): return
        case let (x?, y?):
            let scale = max(abs(x), abs(y))
            #expect(abs(x - y) <= 1e-9 * scale + 1e-15, "\(what): weightdrift \(x) vs oracle \(y)")
        default:
            Issue.record("\(what): weightdrift \(String(describing: a)) vs oracle \(String(describing: b))")
        }
    }

    func check(_ ours: DriftSums?, against oracle: JSONValue, _ what: String) {
        guard let ours else {
            Issue.record("\(what): not compared by weightdrift")
            return
        }
        // Nil where nothing is finite in both files; the oracle then has null.
        let m = ours.metrics
        close(m?.relativeChange, oracle["relativeChange"]?.number, "\(what) relativeChange")
        close(m?.cosine, oracle["cosine"]?.number, "\(what) cosine")
        close(m?.normRatio, oracle["normRatio"]?.number, "\(what) normRatio")
        close(m?.baseNorm, oracle["baseNorm"]?.number, "\(what) baseNorm")
        close(m?.tunedNorm, oracle["tunedNorm"]?.number, "\(what) tunedNorm")
        close(m?.maxAbsChange, oracle["maxAbsChange"]?.number, "\(what) maxAbsChange")
        close(ours.changedFraction, oracle["changedFraction"]?.number, "\(what) changedFraction")
        #expect(m?.relativeTo.rawValue == oracle["relativeTo"]?.string, "\(what) relativeTo")
        #expect(Double(ours.tunedNaN) == oracle["tunedNaN"]?.number, "\(what) tunedNaN")
        #expect(Double(ours.tunedInf) == oracle["tunedInf"]?.number, "\(what) tunedInf")
        #expect(Double(ours.count) == oracle["count"]?.number, "\(what) count")
    }

    @Test(arguments: pairs)
    func agreesWithTheFloat64Oracle(_ pair: String) throws {
        let parts = pair.split(separator: " ").map(String.init)
        let expected = try #require(Self.oracle["pairs"]?.array?.first { $0["base"]?.string == parts[0] && $0["tuned"]?.string == parts[1] })
        let report = try DriftEngine.compare(base: Checkpoint.open(Samples.path(parts[0])),
                                             tuned: Checkpoint.open(Samples.path(parts[1])), policy: Policy())
        let weights = report.layers.flatMap(\.weights)
        var checked = 0
        for layer in expected["layers"]?.array ?? [] {
            let oracleWeights = layer["weights"]?.array ?? []
            let paired = oracleWeights.filter { $0["status"]?.string == "paired" }
            var layerSums: DriftSums?
            for weight in paired {
                let basePath = weight["basePath"]?.string, tunedPath = weight["tunedPath"]?.string
                let ours = weights.first { $0.base?.path == basePath && $0.tuned?.path == tunedPath }
                check(ours?.sums, against: weight, "\(pair) \(basePath ?? "?")")
                if let sums = ours?.sums {
                    if layerSums == nil { layerSums = sums } else { layerSums!.merge(sums) }
                }
                checked += 1
            }
            if !paired.isEmpty { check(layerSums, against: layer, "\(pair) layer \(layer["name"]?.string ?? "?")") }
        }
        #expect(checked > 0)
    }

    /// The oracle reads the safetensors export on its own (plain numpy parsing) and finds the
    /// Keras pair's numbers; the parameterised test above holds weightdrift to both.
    @Test func oracleGivesTheSafetensorsExportTheKerasPairsNumbers() throws {
        func layers(_ base: String, _ tuned: String) throws -> [String: Double] {
            let pair = try #require(Self.oracle["pairs"]?.array?.first { $0["base"]?.string == base && $0["tuned"]?.string == tuned })
            return Dictionary(uniqueKeysWithValues: (pair["layers"]?.array ?? []).compactMap { layer in
                layer["name"]?.string.flatMap { name in layer["relativeChange"]?.number.map { (name, $0) } }
            })
        }
        let keras = try layers("k3/pretrained.h5", "k3/ft_lowlr.h5")
        #expect(keras.count == 5)
        for tuned in ["safetensors/ft_lowlr.safetensors", "safetensors/sharded/model.safetensors.index.json"] {
            let exported = try layers("safetensors/pretrained.safetensors", tuned)
            #expect(exported.keys.sorted() == keras.keys.sorted())
            for (name, value) in keras { close(exported[name], value, "\(tuned) \(name)") }
        }
    }
}
