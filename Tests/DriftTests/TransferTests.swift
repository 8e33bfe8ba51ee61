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

    /// The manifest's calibration oracle: analyse.py's `fit_cuts` (numpy) on named sets of the mlp runs.
    static let oracle: [String: JSONValue] = {
        let url = Samples.directory.appendingPathComponent("transfer/manifest.json")
        guard let data = try? Data(contentsOf: url), let doc = JSONValue.parse(data) else { return [:] }
        return doc["calibrationOracle"]?.object ?? [:]
    }()

    /// The named runs of the mlp family, labelled with their measured forgetting and scored by the tool.
    static func labelled(_ names: [String]) throws -> [ForgettingCalibration.Run] {
        try names.map { name in
            let run = try #require(runs.first { $0.family == "mlp" && $0.name == name }, "\(name)")
            return ForgettingCalibration.Run(base: "", tuned: run.tuned, forgetting: run.forgetting, score: try assess(run).score,
                                             headDetected: nil)
        }
    }

    static func oracleSet(_ key: String) throws -> (runs: [ForgettingCalibration.Run], cuts: (Double, Double)?) {
        let entry = try #require(oracle[key], "\(key)")
        let names = try #require(entry["runs"]?.array).compactMap(\.string)
        let cuts = entry["cuts"]?["medium"]?.number.flatMap { m in entry["cuts"]?["high"]?.number.map { (m, $0) } }
        return (try labelled(names), cuts)
    }

    /// The rule is the one the study evaluated: the same shared shape, and the same cut points as
    /// analyse.py's fit_cuts on every oracle set (or a refusal where it refuses).
    @Test func calibrationMatchesTheNumpyOracle() throws {
        let shape = try #require(Self.oracle["shape"])
        let study = ForgettingCalibration.Shape.study
        #expect(shape["edge"]?.number == study.edge && shape["quantile"]?.number == study.quantile
                && shape["highQuantile"]?.number == study.highQuantile)
        #expect(shape["priorMedian"]?.number == study.priorMedian && shape["priorSD"]?.number == study.priorSD)
        #expect(shape["ratioMedian"]?.number == study.ratioMedian && shape["ratioSD"]?.number == study.ratioSD)
        #expect(shape["positionSD"]?.number == study.positionSD)
        #expect(shape.object.map { Set($0.keys) } == ["edge", "quantile", "highQuantile", "priorMedian", "priorSD", "ratioMedian", "ratioSD",
                                                      "positionSD"])
        let keys = ["labelled", "forgotOnly", "keptOnly", "barelyMoved", "allMlp"]
        #expect(Set(Self.oracle.keys) == Set(keys + ["shape"]))
        for key in keys {
            let (labelled, cuts) = try Self.oracleSet(key)
            if let (medium, high) = cuts {
                let fit = try ForgettingCalibration(runs: labelled)
                #expect(abs(fit.cutPoints.medium - medium) <= 1e-9 * medium, "\(key): \(fit.cutPoints.medium) vs \(medium)")
                #expect(abs(fit.cutPoints.high - high) <= 1e-9 * high, "\(key)")
            } else {
                #expect(throws: ForgettingCalibration.Failure.self, "\(key)") { try ForgettingCalibration(runs: labelled) }
            }
        }
    }

    /// Labelled runs on both sides of the high cut (at most 20 points lost, and more) place it
    /// between them, whatever the ratio prior says.
    static func expectHighCutBracketed(_ fit: ForgettingCalibration) throws {
        #expect(fit.highSupport == .bracketed)
        let scored = fit.runs.filter { $0.score != nil }
        let below = try #require(scored.filter { $0.forgetting <= ForgettingCalibration.highLoss }.compactMap(\.score).max())
        let above = try #require(scored.filter { $0.forgetting > ForgettingCalibration.highLoss }.compactMap(\.score).min())
        try #require(below < above)
        #expect(fit.cutPoints.high > below && fit.cutPoints.high <= above, "\(fit.cutPoints.high) not in (\(below), \(above)]")
        #expect(fit.level(below) != .high && fit.level(above) == .high)
    }

    /// Fitted on three labelled runs (one per band), the family's other runs: none that lost more
    /// than 20 points is low, runs that kept the task and moved less than the labelled one that kept
    /// it are low, runs that moved further than the labelled high run are high.
    @Test func threeLabelledRunsBandTheOtherRuns() throws {
        let names = try #require(Self.oracle["labelled"]?["runs"]?.array).compactMap(\.string)
        let fit = try ForgettingCalibration(runs: try Self.labelled(names))
        #expect(Set(fit.runs.map { ForgettingCalibration.band(forLoss: $0.forgetting) }) == [.low, .medium, .high])
        #expect(fit.support == .bracketed && fit.highCalledLow == 0)
        #expect(fit.rightBand == fit.runs.count)
        try Self.expectHighCutBracketed(fit)
        let keptScore = try #require(fit.furthestKept)
        let highScore = try #require(fit.runs.filter { $0.forgetting > ForgettingCalibration.highLoss }.compactMap(\.score).min())
        let others = Self.runs.filter { $0.family == "mlp" && !names.contains($0.name) }
        try #require(others.count >= 6)
        for run in others {
            let score = try #require(try Self.assess(run).score)
            let level = fit.level(score)
            if run.forgetting > ForgettingCalibration.highLoss { #expect(level != .low, "\(run.name)") }
            if run.forgetting < ForgettingCalibration.mediumLoss && score <= keptScore { #expect(level == .low, "\(run.name)") }
            if score >= highScore { #expect(level == .high, "\(run.name)") }
        }
    }

    /// The same runs relabelled with a different number of points lost.
    static func relabelled(_ runs: [ForgettingCalibration.Run], _ losses: [Double]) -> [ForgettingCalibration.Run] {
        zip(runs, losses).map { ForgettingCalibration.Run(base: $0.base, tuned: $0.tuned, forgetting: $1, score: $0.score,
                                                          headDetected: $0.headDetected) }
    }

    /// The number of points lost counts, not only the band: a medium run that lost 19 points says
    /// the high cut is just above it, one that lost 6 that the medium cut is just below it — so both
    /// cuts sit lower for the 19. Without the position term (positionSD nil) only the band counts.
    /// Losses outside `positionLosses` (noise around none, saturation) count by their band only.
    @Test func pointsLostPlaceTheRunsBetweenTheCuts() throws {
        let runs = try Self.oracleSet("labelled").runs
        let losses = runs.map(\.forgetting)
        let medium = try #require(losses.firstIndex { ForgettingCalibration.band(forLoss: $0) == .medium })
        let low = try #require(losses.firstIndex { $0 < ForgettingCalibration.mediumLoss })
        let high = try #require(losses.firstIndex { $0 > ForgettingCalibration.highLoss })
        func with(_ index: Int, _ loss: Double, shape: ForgettingCalibration.Shape = .study) throws -> ForgettingAssessment.CutPoints {
            var l = losses
            l[index] = loss
            return try ForgettingCalibration(runs: Self.relabelled(runs, l), shape: shape).cutPoints
        }
        let early = try with(medium, 6), late = try with(medium, 19)
        #expect(late.medium < early.medium && late.high < early.high, "\(early) vs \(late)")
        let s = ForgettingCalibration.Shape.study
        let bandsOnly = ForgettingCalibration.Shape(edge: s.edge, quantile: s.quantile, highQuantile: s.highQuantile,
                                                    priorMedian: s.priorMedian, priorSD: s.priorSD, ratioMedian: s.ratioMedian,
                                                    ratioSD: s.ratioSD, positionSD: nil)
        let bandEarly = try with(medium, 6, shape: bandsOnly), bandLate = try with(medium, 19, shape: bandsOnly)
        #expect(bandEarly == bandLate)
        let saturated = try with(high, 45), chance = try with(high, 95)
        #expect(saturated == chance)
        let none = try with(low, 0.5), noise = try with(low, -2)
        #expect(none == noise)
        // A high run that lost 21 points says the high cut is just below it; one that lost 35, further below.
        let justOver = try with(high, 21), wellOver = try with(high, 35)
        #expect(justOver.high > wellOver.high, "\(justOver) vs \(wellOver)")
    }

    /// One side of labels still fits, and says it rests on the shared shape; runs that kept the task
    /// and barely moved, or that did not move at all, are refused.
    @Test func calibrationSupportAndRefusals() throws {
        let forgot = try ForgettingCalibration(runs: try Self.oracleSet("forgotOnly").runs)
        #expect(forgot.support == .forgotOnly && forgot.keptTask == 0 && forgot.forgot == 3)
        // A cut that rests on runs that all forgot sits below the least-moved of them.
        #expect(forgot.cutPoints.medium < (forgot.leastForgot ?? 0))
        // Two medium runs and a high one: the high cut sits between them, from the runs alone.
        try Self.expectHighCutBracketed(forgot)
        let kept = try ForgettingCalibration(runs: try Self.oracleSet("keptOnly").runs)
        #expect(kept.support == .keptOnly && kept.forgot == 0)
        // The runs that kept the task bound the medium cut from below; the cautious quantile may put it
        // just under the furthest of them when that one lost nearly 5 points (3, here), never far under.
        let keptScores = kept.runs.compactMap(\.score).sorted()
        let furthestKept = try #require(kept.furthestKept), lossAtFurthest = try #require(kept.runs.first { $0.score == furthestKept }?.forgetting)
        #expect(kept.cutPoints.medium > keptScores[keptScores.count - 2])
        #expect(lossAtFurthest < 1 ? kept.cutPoints.medium > furthestKept
                : kept.cutPoints.medium > furthestKept * exp(-(kept.shape.positionSD ?? 0)))
        // No run lost more than 20 points: the high cut rests on the ratio prior, above the medium cut.
        #expect(kept.highSupport == .ratioPrior && kept.cutPoints.high > kept.cutPoints.medium)
        let barely = try Self.oracleSet("barelyMoved").runs
        let furthest = try #require(barely.compactMap(\.score).max())
        #expect(throws: ForgettingCalibration.Failure.noForgettingSeen(runs: 2, furthest: furthest,
                                                                      priorMedian: ForgettingCalibration.Shape.study.priorMedian)) {
            try ForgettingCalibration(runs: barely)
        }
        let still = ForgettingCalibration.Run(base: "", tuned: "", forgetting: 30, score: 0, headDetected: nil)
        #expect(throws: ForgettingCalibration.Failure.noUsableScore(runs: 1)) { try ForgettingCalibration(runs: [still]) }
        #expect(ForgettingCalibration.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1)
        #expect(ForgettingCalibration.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1)
    }
}
