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
    /// forgetting ≈ k · score^exponent, fitted in log space.
    public let exponent: Double
    /// Runs with a defined score and more than half a point lost: what the fit rests on.
    public let fittedOn: Int
    /// Labelled runs the fitted cut points put in the band their measured loss warrants.
    public let rightBand: Int
    /// Labelled runs that lost more than 20 points yet fall below the medium cut (0 by construction).
    public let highCalledLow: Int
    /// Spearman's rho between score and forgetting over the labelled runs; nil below 3 runs.
    public let spearman: Double?

    public enum Failure: Error, Sendable, Equatable {
        /// No run has a defined score and lost more than half a point: nothing to scale from.
        case nothingToFit(runs: Int)
    }

    /// The rule (also `tools/experiments/transfer/analyse.py`'s `fit_cuts`, evaluated there):
    /// fit forgetting ≈ k · score^b in log space over the runs with a finite score and more than
    /// 0.5 points lost (b = 1 with fewer than two such runs or scores within 35% of each other;
    /// b clamped to [0.5, 2]); the cut points are the scores where the fit predicts 5 and 20
    /// points. Then no labelled run is left below its band: a run that lost ≥ 5 points below the
    /// medium cut pulls it down to 0.8 × its score, one that lost > 20 below the high cut pulls
    /// that down to its score.
    public init(runs: [Run]) throws {
        self.runs = runs
        let points = runs.compactMap { run -> (Double, Double)? in
            guard let s = run.score, s.isFinite, s > 0, run.forgetting > 0.5 else { return nil }
            return (log(s), log(run.forgetting))
        }
        guard !points.isEmpty else { throw Failure.nothingToFit(runs: runs.count) }
        fittedOn = points.count
        var b = 1.0
        let xs = points.map(\.0), ys = points.map(\.1)
        if points.count >= 2, (xs.max()! - xs.min()!) > 0.3 {
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var sxy = 0.0, sxx = 0.0
            for (x, y) in points {
                sxy += (x - mx) * (y - my)
                sxx += (x - mx) * (x - mx)
            }
            b = min(2, max(0.5, sxy / sxx))
        }
        let logK = zip(xs, ys).map { $1 - b * $0 }.reduce(0, +) / Double(points.count)
        var medium = exp((log(Self.mediumLoss) - logK) / b)
        var high = exp((log(Self.highLoss) - logK) / b)
        for run in runs {
            guard let s = run.score, s.isFinite else { continue }
            if run.forgetting >= Self.mediumLoss, s < medium { medium = 0.8 * s }
            if run.forgetting > Self.highLoss, s < high { high = s }
        }
        high = max(high, medium)
        exponent = b
        let cuts = ForgettingAssessment.CutPoints(medium: medium, high: high, source: .policy)
        cutPoints = cuts
        func level(_ score: Double?) -> ForgettingAssessment.Risk {
            guard let score else { return .unknown }
            return score >= cuts.high ? .high : score >= cuts.medium ? .medium : .low
        }
        rightBand = runs.filter { level($0.score) == Self.band(forLoss: $0.forgetting) }.count
        highCalledLow = runs.filter { $0.forgetting > Self.highLoss && level($0.score) == .low }.count
        let scored = runs.filter { $0.score != nil }
        spearman = scored.count >= 3 ? Self.spearman(scored.map { $0.score! }, scored.map(\.forgetting)) : nil
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
