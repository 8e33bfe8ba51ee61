import Checkpoint
import Drift
import Foundation
import SampleFixtures
import Testing

/// The forgetting assessment on real fine-tunes of other model families (tools/experiments/transfer,
/// copied into samples/transfer by its make_samples.py with the forgetting measured on the original
/// task and the numpy oracle's score in samples/transfer/manifest.json).
@Suite struct TransferTests {
    struct Run {
        let family: String
        let name: String
        let tuned: String
        let forgetting: Double
        let score: Double
        let detectedHead: String?
    }

    /// Every run of samples/transfer/manifest.json; throws when the manifest is missing or a run
    /// lacks a field, so no run is silently left out.
    static func loadRuns() throws -> [Run] {
        let doc = try Samples.json("samples/transfer/manifest.json")
        let runs = try #require(doc["runs"]?.array, "samples/transfer/manifest.json has no runs")
        return try runs.map { run in
            guard let family = run["family"]?.string, let name = run["run"]?.string, let tuned = run["tuned"]?.string,
                  let forgetting = run["forgetting"]?.number, let score = run["score"]?.number else {
                throw FixtureError("samples/transfer/manifest.json: a run lacks family, run, tuned, forgetting or score")
            }
            return Run(family: family, name: name, tuned: tuned, forgetting: forgetting, score: score,
                       detectedHead: run["detectedHead"]?.string)
        }
    }

    /// For the tests below; `manifestListsEveryRunOfThreeFamilies` fails when it cannot be read.
    static let runs: [Run] = (try? loadRuns()) ?? []

    static func assess(_ run: Run, policy: Policy = Policy()) throws -> ForgettingAssessment {
        try DriftEngine.compare(base: Checkpoint.open(Samples.path("transfer/\(run.family)/base.keras")),
                                tuned: Checkpoint.open(Samples.path("transfer/\(run.tuned)")), policy: policy).forgetting
    }

    /// The manifest lists every fine-tune on disk, and only those.
    @Test func manifestListsEveryRunOfThreeFamilies() throws {
        let runs = try Self.loadRuns()
        #expect(runs.count == Self.runs.count)
        let families = Set(runs.map(\.family))
        #expect(families == ["mlp", "gru", "bncnn_new"])
        var onDisk: [String] = []
        for family in families {
            onDisk += try Samples.filesOnDisk(in: "transfer/\(family)", endingIn: [".keras"]).filter { !$0.hasSuffix("/base.keras") }
        }
        #expect(runs.map { "transfer/\($0.tuned)" }.sorted() == onDisk.sorted())
    }

    /// The default cut points call no run below the band its measured forgetting puts it in
    /// (< 5 points lost low, 5–20 medium, > 20 high): they are cautious, at the cost of over-calling.
    @Test func defaultLevelsNeverCallARunBelowItsMeasuredBand() throws {
        try #require(!Self.runs.isEmpty)
        #expect(Self.runs.contains { $0.forgetting > ForgettingCalibration.highLoss })
        for run in Self.runs {
            let f = try Self.assess(run)
            #expect(f.cutPoints == .defaults)
            #expect(f.risk >= ForgettingCalibration.band(forLoss: run.forgetting), "\(run.family)/\(run.name): lost \(run.forgetting), \(f.risk)")
        }
    }

    /// The score the tool computes is the one the study evaluated: analyse.py's numpy float64 oracle
    /// (trainable weights, running statistics out, detected head out), and the same head.
    @Test func scoreAndHeadMatchTheNumpyOracle() throws {
        try #require(Self.runs.count >= 9)
        for run in Self.runs {
            let f = try Self.assess(run)
            let score = try #require(f.score, "\(run.name)")
            #expect(abs(score - run.score) <= 1e-6 * max(run.score, 1e-12), "\(run.family)/\(run.name): \(score) vs \(run.score)")
            #expect(f.detectedHead?.name == run.detectedHead, "\(run.family)/\(run.name)")
        }
    }

    /// BatchNorm's moving mean and variance follow the new data; the score leaves them out.
    @Test func runningStatisticsAreLeftOut() throws {
        let run = try #require(Self.runs.first { $0.family == "bncnn_new" })
        let base = try Checkpoint.open(Samples.path("transfer/bncnn_new/base.keras"))
        let running = base.layers.flatMap(\.weights).filter { ForgettingAssessment.isRunningStatistic($0.name) }
        #expect(running.count == 4)  // bn1 and bn2: moving_mean, moving_variance
        let report = try DriftEngine.compare(base: base, tuned: Checkpoint.open(Samples.path("transfer/\(run.tuned)")), policy: Policy())
        #expect(report.forgetting.runningStatistics == 4)
        // The score is over gamma/beta and the kernels only: with the moving statistics it would differ.
        var with: [Double] = [], without: [Double] = []
        for name in report.forgetting.profile.map(\.name) {
            let layer = try #require(report.layers.first { $0.name == name })
            let all = try #require(layer.sums)
            with.append((all.sumDiffSquares / all.sumBaseSquares).squareRoot())
            var trainable = DriftSums()
            for weight in layer.weights where !ForgettingAssessment.isRunningStatistic(weight.name) {
                trainable.merge(try #require(weight.sums))
            }
            without.append((trainable.sumDiffSquares / trainable.sumBaseSquares).squareRoot())
        }
        let score = try #require(report.forgetting.score)
        let mean = { (values: [Double]) in values.reduce(0, +) / Double(values.count) }
        #expect(abs(score - mean(without)) <= 1e-12 * score)
        #expect(abs(score - mean(with)) > 1e-3 * score)
    }

    /// A head re-initialised for the new task under the old name and shape is found without
    /// --head; a frozen backbone then scores 0 and is low, as its measured forgetting is.
    @Test func reinitialisedHeadIsDetectedAndReported() throws {
        let frozen = try #require(Self.runs.first { $0.family == "gru" && $0.name.contains("frozen") })
        let f = try Self.assess(frozen)
        let head = try #require(f.detectedHead)
        let familyHead = try #require(try Samples.json("samples/transfer/manifest.json")["families"]?["gru"]?["head"]?.string)
        #expect(head.name == familyHead)
        let detected: (cosine: Double, change: Double)? = if case .detected(let c, let r, _) = head.reason { (c, r) } else { nil }
        let (cosine, change) = try #require(detected, "\(head.name) left out as \(head.reason), not detected")
        #expect(cosine < ForgettingAssessment.detectedHeadCosine && change > 0.5)
        #expect(f.score == 0 && f.risk == .low)
        #expect(frozen.forgetting < ForgettingCalibration.mediumLoss)
        // Declaring the head gives the same backbone and says so.
        var policy = Policy()
        policy.headPatterns = [familyHead]
        let declared = try Self.assess(frozen, policy: policy)
        #expect(declared.heads == [ForgettingAssessment.HeadLayer(name: familyHead, reason: .declared(pattern: familyHead))])
        #expect(declared.score == f.score)
        // A shared head trained from the old one keeps its direction: never taken for a new head.
        try #require(Self.runs.filter { $0.family == "mlp" }.count >= 6)
        for run in Self.runs where run.family == "mlp" {
            #expect(try Self.assess(run).detectedHead == nil, "\(run.name)")
        }
    }

    /// A Bidirectional GRU is one layer (its forward and backward cells in its row), at its depth,
    /// before the head.
    @Test func nestedLayersAreInDepthOrder() throws {
        let base = try Checkpoint.open(Samples.path("transfer/gru/base.keras"))
        let names = base.layers.map(\.name)
        let head = try #require(names.firstIndex(of: "head"))
        #expect(head == names.count - 1, "\(names)")
        let bigru = try #require(base.layers.first { $0.name == "bigru" }, "\(names)")
        #expect(names.firstIndex(of: "bigru")! < head)
        #expect(bigru.className == "Bidirectional")
        #expect(bigru.weights.count == 6, "\(bigru.weights.map(\.name))")  // kernel, recurrent_kernel, bias per direction
    }

    @Test func levelsSayTheyAreUncalibratedUnlessThePolicyGivesCutPoints() throws {
        let run = try #require(Self.runs.first { $0.family == "mlp" })
        let defaults = try Self.assess(run)
        #expect(defaults.cutPoints == .defaults && defaults.cutPoints.source == .uncalibratedDefaults)
        let yaml = "version: 1\nforgetting: {medium: 0.5, high: 2.0}\n"
        let policy = try Policy.load(yaml: yaml, source: "p.yaml")
        let calibrated = try Self.assess(run, policy: policy)
        #expect(calibrated.cutPoints == ForgettingAssessment.CutPoints(medium: 0.5, high: 2.0, source: .policy))
        let score = try #require(calibrated.score)
        #expect(calibrated.risk == (score >= 2 ? .high : score >= 0.5 ? .medium : .low))
        for bad in ["forgetting: {medium: 0.5}", "forgetting: {medium: 0.5, high: 0.1}", "forgetting: {medium: 0.5, high: 1, low: 0.1}",
                    "forgetting: {medium: -1, high: 1}", "forgetting: 0.3"] {
            #expect(throws: PolicyError.self, "\(bad)") { try Policy.load(yaml: bad, source: "p.yaml") }
        }
    }

    /// The calibration rule on the real runs: fitted on three labelled ones, no run that lost more
    /// than 20 points is left low, and the labelled runs land in their bands.
    @Test func calibrationFitsTheLabelledRuns() throws {
        let mlp = Self.runs.filter { $0.family == "mlp" }
        let labelled = try mlp.prefix(3).map { run in
            ForgettingCalibration.Run(base: "", tuned: run.tuned, forgetting: run.forgetting, score: try Self.assess(run).score,
                                      headDetected: nil)
        }
        let fit = try ForgettingCalibration(runs: Array(labelled))
        #expect(fit.highCalledLow == 0)
        #expect(fit.cutPoints.medium > 0 && fit.cutPoints.medium <= fit.cutPoints.high)
        #expect(fit.rightBand == fit.runs.filter { fit.level($0.score) == ForgettingCalibration.band(forLoss: $0.forgetting) }.count)
        #expect(throws: ForgettingCalibration.Failure.self) {
            try ForgettingCalibration(runs: [ForgettingCalibration.Run(base: "", tuned: "", forgetting: 0, score: 0.1, headDetected: nil)])
        }
        #expect(ForgettingCalibration.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
        #expect(ForgettingCalibration.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
    }
}
