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

    public let runs: [Run]
    public let cutPoints: ForgettingAssessment.CutPoints
    /// Labelled runs below 5 points lost with a positive score, and runs that lost 5 or more with a
    /// finite score: what the cut points rest on.
    public let keptTask: Int
    public let forgot: Int
    /// Labelled runs the fitted cut points put in the band their measured loss warrants.
    public let rightBand: Int
    /// Labelled runs that lost more than 20 points yet fall below the medium cut (0 by construction).
    public let highCalledLow: Int
    /// Spearman's rho between score and forgetting over the labelled runs; nil below 3 runs.
    public let spearman: Double?

    public enum Failure: Error, Sendable, Equatable {
        /// The cut points need a run that kept the task (moved, < 5 points lost) and one that lost
        /// 5 points or more; these are the counts found.
        case needBothKinds(runs: Int, keptTask: Int, forgot: Int)
    }

    /// How far above the furthest-moved run that kept the task the medium cut goes (at most), and
    /// the high cut above the medium one when no labelled run is in the medium band.
    public static let mediumMargin = 1.25
    public static let highMargin = 1.5

    /// The rule (also `fit_cuts` in tools/experiments/transfer/analyse.py, evaluated there). Real
    /// fine-tunes of one model either keep the task or lose most of it, with a narrow band between
    /// at a scale that differs by architecture, so the cut points go into the gaps the labelled runs
    /// show, on the cautious side:
    /// - medium: just above the furthest-moved run that kept the task (1.25 × its score), but not
    ///   past the geometric mean of it and the least-moved run that forgot (≥ 5 points); where the
    ///   two overlap, 0.8 × the least-moved run that forgot;
    /// - high: the geometric mean of the furthest-moved medium run and the least-moved high run
    ///   (> 20 points); with no medium run labelled, 1.5 × the medium cut (at most the least-moved
    ///   high run); with no high run, 1.5 × the furthest-moved medium run.
    public init(runs: [Run]) throws {
        self.runs = runs
        let scored = runs.compactMap { run -> (score: Double, loss: Double)? in
            guard let s = run.score, s.isFinite else { return nil }
            return (s, run.forgetting)
        }
        let kept = scored.filter { $0.loss < Self.mediumLoss && $0.score > 0 }.map(\.score)
        let lost = scored.filter { $0.loss >= Self.mediumLoss }
        keptTask = kept.count
        forgot = lost.count
        guard let furthestKept = kept.max(), let leastLost = lost.map(\.score).min() else {
            throw Failure.needBothKinds(runs: runs.count, keptTask: kept.count, forgot: lost.count)
        }
        let medium = furthestKept < leastLost ? min(Self.mediumMargin * furthestKept, (furthestKept * leastLost).squareRoot())
            : 0.8 * leastLost
        let mediumRuns = lost.filter { $0.loss <= Self.highLoss }.map(\.score)
        let highRuns = lost.filter { $0.loss > Self.highLoss }.map(\.score)
        var high: Double
        if let m = mediumRuns.max(), let h = highRuns.min() {
            high = m < h ? (m * h).squareRoot() : h
        } else if let h = highRuns.min() {
            high = min(h, Self.highMargin * medium)
        } else {
            high = Self.highMargin * mediumRuns.max()!
        }
        high = max(high, medium)
        let cuts = ForgettingAssessment.CutPoints(medium: medium, high: high, source: .policy)
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
