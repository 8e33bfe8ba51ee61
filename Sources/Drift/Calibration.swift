import Foundation

/// Fits the forgetting levels' cut points to a user's own labelled fine-tunes (`weightdrift
/// calibrate`): each run's score and the points of original-task accuracy it lost.
public struct ForgettingCalibration: Sendable, Equatable {
    /// One labelled run.
    public struct Run: Sendable, Equatable {
        public let base: String
        public let tuned: String
        /// Points of original-task accuracy lost (measured by the user).
        public let forgetting: Double
        /// The forgetting score WeightDrift computed; nil when undefined (no backbone); +∞ for
        /// non-finite weights.
        public let score: Double?
        public let headDetected: String?

        public init(base: String, tuned: String, forgetting: Double, score: Double?, headDetected: String?) {
            self.base = base
            self.tuned = tuned
            self.forgetting = forgetting
            self.score = score
            self.headDetected = headDetected
        }
    }

    /// Bands of measured forgetting: low below 5 points lost, medium 5–20, high above 20.
    public static let mediumLoss = 5.0
    public static let highLoss = 20.0

    public static func band(forLoss loss: Double) -> ForgettingAssessment.Risk {
        loss < mediumLoss ? .low : loss <= highLoss ? .medium : .high
    }

    /// The shape of the rule that is shared across architectures (not fitted to the user's runs):
    /// chosen on the five model families of tools/experiments/transfer, where leave-one-family-out
    /// figures say how well it carries to a family it was not chosen on.
    public struct Shape: Sendable, Equatable {
        /// Width (in log score) of the logistic edge of a band: how sharply a labelled run bounds a cut.
        public let edge: Double
        /// The point of the medium cut's posterior it is placed at (below 0.5: the cautious side).
        public let quantile: Double
        /// The point of the high cut's posterior it is placed at.
        public let highQuantile: Double
        /// Prior on the medium cut, log-normal: the median and the sd of log(medium cut) across the
        /// study's model families.
        public let priorMedian: Double
        public let priorSD: Double
        /// Prior on the ratio high cut / medium cut, log-normal: the median and the sd of its log
        /// across the study's model families.
        public let ratioMedian: Double
        public let ratioSD: Double
        /// How far (sd, in log score) a labelled run may sit from where the points it lost place it
        /// between the cuts (loss linear in log score: 5 points at the medium cut, 20 at the high cut);
        /// nil: only each run's band counts (the rule shipped before).
        public let positionSD: Double?

        public init(edge: Double, quantile: Double, highQuantile: Double, priorMedian: Double, priorSD: Double,
                    ratioMedian: Double, ratioSD: Double, positionSD: Double? = nil) {
            self.edge = edge
            self.quantile = quantile
            self.highQuantile = highQuantile
            self.priorMedian = priorMedian
            self.priorSD = priorSD
            self.ratioMedian = ratioMedian
            self.ratioSD = ratioSD
            self.positionSD = positionSD
        }

        public static let study = Shape(edge: 0.02, quantile: 0.1, highQuantile: 0.2, priorMedian: 0.0306, priorSD: 4.65,
                                        ratioMedian: 1.92, ratioSD: 0.45, positionSD: 0.3)
    }

    /// Losses whose number places a run between the cuts: below 1 point a loss is noise around none
    /// (and can be negative), above 40 (twice the high band's edge) accuracy saturates towards chance.
    public static let positionLosses = 1.0...40.0

    /// What the labelled runs bound, and so how far the medium cut rests on the shared shape.
    public enum Support: String, Sendable, Equatable {
        /// Runs that kept the task below the medium cut and runs that forgot above it.
        case bracketed
        /// Only runs that lost 5 points or more: how far below them forgetting starts rests on the prior.
        case forgotOnly
        /// Only runs that kept the task (moved past the prior's median): the cut rests on them and the prior.
        case keptOnly
    }

    /// What bounds the high cut.
    public enum HighSupport: String, Sendable, Equatable {
        /// Runs that lost at most 20 points below it and runs that lost more above it: the runs place it.
        case bracketed
        /// No run on one side of it: where it sits above the medium cut rests on the ratio prior.
        case ratioPrior
    }

    public let runs: [Run]
    public let shape: Shape
    public let cutPoints: ForgettingAssessment.CutPoints
    public let support: Support
    public let highSupport: HighSupport
    /// Labelled runs below 5 points lost and runs that lost 5 or more, with a positive finite score:
    /// what the cut points rest on.
    public let keptTask: Int
    public let forgot: Int
    /// The furthest-moved run that kept the task, and the least-moved run that lost 5 points or more.
    public let furthestKept: Double?
    public let leastForgot: Double?
    /// Labelled runs the fitted cut points put in the band their measured loss warrants.
    public let rightBand: Int
    /// Labelled runs that lost more than 20 points yet fall below the medium cut.
    public let highCalledLow: Int
    /// Spearman's rho between score and forgetting over the labelled runs; nil below 3 runs.
    public let spearman: Double?

    public enum Failure: Error, Sendable, Equatable {
        /// No labelled run has a positive finite score (nothing moved, or no comparable backbone).
        case noUsableScore(runs: Int)
        /// Every run kept the task and none moved past the prior's median: nothing says where
        /// forgetting starts.
        case noForgettingSeen(runs: Int, furthest: Double, priorMedian: Double)
    }

    /// The grid the posterior is evaluated on, in steps of 0.02: log(medium cut) from log 1e-6
    /// (1037 points, to about 1e3) and log(high cut / medium cut) from 0.02 (150 points, ratios 1.02
    /// to about 20). log(high cut) = log(medium cut) + log(ratio) lands on the same grid.
    static let gridStart = log(1e-6), gridStep = 0.02, gridCount = 1037, ratioCount = 150

    /// The rule (also `fit_cuts` in tools/experiments/transfer/analyse.py, evaluated there). Two
    /// per-user parameters: the medium cut m and the ratio r = high cut / medium cut. Each labelled
    /// run is an interval-censored observation of (log m, log r): a run that kept the task (< 5
    /// points) says its score is under m, a medium run (5–20) that it is between m and the high cut
    /// h = r·m, a high run (> 20) that it is over h; each bound is a logistic edge of width `edge` in
    /// log score, so runs out of order weigh against each other instead of failing. The number of
    /// points lost places a run inside the bands too (`Shape.positionSD`): loss taken as linear in log
    /// score between the cuts, a run that lost L points (1 to 40) sits near log m + t·log r,
    /// t = (L − 5) / 15 — one that lost 19 says the high cut is just above it, one that lost 6 that the
    /// medium cut is just below it; below 1 point (noise) and above 40 (saturated) only the band counts.
    /// The priors are
    /// normal in log m and log r (the study's families' own cut points): runs that bracket the high
    /// cut place it, the ratio prior fills in when none do. The medium cut is the `quantile` point
    /// of log m's marginal posterior, the high cut the `highQuantile` point of log h's (never below
    /// the medium cut). One informative run is enough; the report says when the fit rests on a prior.
    public init(runs: [Run], shape: Shape = .study) throws {
        self.runs = runs
        self.shape = shape
        let scored = runs.compactMap { run -> (score: Double, loss: Double)? in
            guard let s = run.score, s.isFinite, s > 0 else { return nil }
            return (s, run.forgetting)
        }
        let kept = scored.filter { $0.loss < Self.mediumLoss }.map(\.score)
        let lost = scored.filter { $0.loss >= Self.mediumLoss }.map(\.score)
        keptTask = kept.count
        forgot = lost.count
        furthestKept = kept.max()
        leastForgot = lost.min()
        guard let furthest = scored.map(\.score).max() else { throw Failure.noUsableScore(runs: runs.count) }
        if lost.isEmpty && furthest < shape.priorMedian {
            throw Failure.noForgettingSeen(runs: runs.count, furthest: furthest, priorMedian: shape.priorMedian)
        }
        support = kept.isEmpty ? .forgotOnly : lost.isEmpty ? .keptOnly : .bracketed
        let high = scored.contains { $0.loss > Self.highLoss }, notHigh = scored.contains { $0.loss <= Self.highLoss }
        highSupport = high && notHigh ? .bracketed : .ratioPrior
        let fitted = Self.fit(scored.map { (log($0.score), $0.loss) }, shape: shape)
        let cuts = ForgettingAssessment.CutPoints(medium: fitted.medium, high: fitted.high, source: .policy)
        cutPoints = cuts
        func level(_ score: Double?) -> ForgettingAssessment.Risk {
            guard let score else { return .unknown }
            return score >= cuts.high ? .high : score >= cuts.medium ? .medium : .low
        }
        rightBand = runs.filter { level($0.score) == Self.band(forLoss: $0.forgetting) }.count
        highCalledLow = runs.filter { $0.forgetting > Self.highLoss && level($0.score) == .low }.count
        let withScore = runs.filter { $0.score != nil }
        spearman = withScore.count >= 3 ? Self.spearman(withScore.map { $0.score! }, withScore.map(\.forgetting)) : nil
    }

    /// The cut points: the posterior on the (log m, log r) grid, and the `quantile` point of log m's
    /// marginal and the `highQuantile` point of log h's.
    static func fit(_ points: [(x: Double, loss: Double)], shape: Shape) -> (medium: Double, high: Double) {
        let nm = gridCount, nr = ratioCount, tau = shape.edge
        let grid = (0..<nm).map { gridStart + gridStep * Double($0) }
        let ratios = (1...nr).map { gridStep * Double($0) }
        let mu = log(shape.priorMedian), muRatio = log(shape.ratioMedian)
        let priorRatio = ratios.map { r in
            let z = (r - muRatio) / shape.ratioSD
            return -0.5 * (z * z)
        }
        var logp = [Double](repeating: 0, count: nm * nr)
        for i in 0..<nm {
            let z = (grid[i] - mu) / shape.priorSD
            let prior = -0.5 * (z * z)
            for j in 0..<nr { logp[i * nr + j] = prior + priorRatio[j] }
        }
        for (x, loss) in points {
            // Where the points lost place the run: at log m + t log r (nil outside positionLosses).
            let sd = positionLosses.contains(loss) ? shape.positionSD : nil
            let t = (loss - mediumLoss) / (highLoss - mediumLoss)
            for i in 0..<nm {
                let u = x - grid[i]
                let below = 1 / (1 + exp(u / tau))                    // P(score under the medium cut)
                for j in 0..<nr {
                    let above = 1 / (1 + exp(-(u - ratios[j]) / tau)) // P(score over the high cut)
                    let p = loss < mediumLoss ? below : loss > highLoss ? above : 1 - below - above
                    var term = log(max(p, 1e-300))
                    if let sd {
                        let z = (u - t * ratios[j]) / sd
                        term = term + -0.5 * (z * z)
                    }
                    logp[i * nr + j] += term
                }
            }
        }
        let top = logp.max()!
        var medium = [Double](repeating: 0, count: nm), high = [Double](repeating: 0, count: nm + nr)
        for i in 0..<nm {
            var row = 0.0
            for j in 0..<nr {
                let w = exp(logp[i * nr + j] - top)
                row += w
                high[i + j + 1] += w
            }
            medium[i] = row
        }
        func point(_ weights: [Double], _ q: Double) -> Int {
            var cumulative = [Double]()
            cumulative.reserveCapacity(weights.count)
            var sum = 0.0
            for w in weights {
                sum += w
                cumulative.append(sum)
            }
            let target = q * sum
            return cumulative.firstIndex { $0 >= target }!
        }
        let m = exp(grid[point(medium, shape.quantile)])
        let h = exp(gridStart + gridStep * Double(point(high, shape.highQuantile)))
        return (m, max(h, m))
    }

    /// The level these cut points give a score.
    public func level(_ score: Double?) -> ForgettingAssessment.Risk {
        guard let score else { return .unknown }
        return score >= cutPoints.high ? .high : score >= cutPoints.medium ? .medium : .low
    }

    static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = Array(repeating: 0.0, count: values.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, values[order[j + 1]] == values[order[i]] { j += 1 }
            for k in i...j { ranks[order[k]] = Double(i + j) / 2 }
            i = j + 1
        }
        return ranks
    }

    /// Spearman's rho (Pearson on average ranks); nil when either side is constant.
    public static func spearman(_ a: [Double], _ b: [Double]) -> Double? {
        let ra = ranks(a), rb = ranks(b)
        let n = Double(ra.count)
        let ma = ra.reduce(0, +) / n, mb = rb.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for (x, y) in zip(ra, rb) {
            sab += (x - ma) * (y - mb)
            saa += (x - ma) * (x - ma)
            sbb += (y - mb) * (y - mb)
        }
        return saa > 0 && sbb > 0 ? sab / (saa * sbb).squareRoot() : nil
    }

    /// Rows `base,tuned,forgetting` (a header line naming the columns is allowed; `#` lines and
    /// blank lines are skipped). Relative paths are relative to the CSV's folder.
    public static func parseRuns(_ text: String, source: String) throws -> [(base: String, tuned: String, forgetting: Double)] {
        let folder = URL(fileURLWithPath: source).deletingLastPathComponent()
        var rows: [(String, String, Double)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if rows.isEmpty, fields.count == 3, fields[0].lowercased() == "base", fields[1].lowercased() == "tuned" { continue }
            guard fields.count == 3, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw PolicyError("\(source): line \(index + 1): expected base,tuned,forgetting (3 fields), got \(fields.count)")
            }
            guard let loss = Double(fields[2]), loss.isFinite else {
                throw PolicyError("\(source): line \(index + 1): forgetting '\(fields[2])' is not a number (points of original-task accuracy lost)")
            }
            func resolve(_ path: String) -> String {
                path.hasPrefix("/") ? path : folder.appendingPathComponent(path).path
            }
            rows.append((resolve(fields[0]), resolve(fields[1]), loss))
        }
        guard !rows.isEmpty else { throw PolicyError("\(source): no runs (rows base,tuned,forgetting)") }
        return rows
    }
}
