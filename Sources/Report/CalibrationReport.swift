public import Drift
import Checkpoint
import Foundation

/// `weightdrift calibrate RUNS.csv`: each run's score against its measured forgetting, how well the
/// fitted cut points separate the runs, and the policy fragment that applies them.
public enum CalibrationReport {
    /// `forgetting: {medium: …, high: …}`: paste into a policy file for `compare --policy`.
    public static func fragment(_ c: ForgettingCalibration) -> String {
        "forgetting: {medium: \(number(c.cutPoints.medium)), high: \(number(c.cutPoints.high))}"
    }

    /// Enough digits to reproduce the cut point's level decisions.
    static func number(_ value: Double) -> String { String(format: "%.6g", value) }

    static func score(_ value: Double?) -> String {
        guard let value else { return "—" }
        return value.isInfinite ? "NaN/Inf" : format(value)
    }

    public static func table(_ c: ForgettingCalibration) -> String {
        var table = TextTable([("tuned", .left), ("score", .right), ("lost", .right), ("measured", .left), ("fitted", .left),
                               ("head detected", .left)])
        for run in c.runs {
            table.add([run.tuned, score(run.score), format(run.forgetting), ForgettingCalibration.band(forLoss: run.forgetting).rawValue,
                       c.level(run.score).rawValue, run.headDetected ?? "—"])
        }
        var out = table.render()
        for line in Sentences.calibration(c) { out += line + "\n" }
        out += "\n# policy fragment (add it to the policy file that compare --policy reads):\n"
        out += fragment(c) + "\n"
        return out
    }

    public static func json(_ c: ForgettingCalibration) -> String {
        JSONWriter.write(.object([
            "runs": .array(c.runs.map { run in
                .object(["base": .string(run.base), "tuned": .string(run.tuned), "forgetting": .number(run.forgetting),
                         "score": .optional(run.score), "measured": .string(ForgettingCalibration.band(forLoss: run.forgetting).rawValue),
                         "fitted": .string(c.level(run.score).rawValue), "detectedHead": .optional(run.headDetected)])
            }),
            "forgetting": .object(["medium": .number(c.cutPoints.medium), "high": .number(c.cutPoints.high)]),
            "fragment": .string(fragment(c)),
            "ratio": .number(c.cutPoints.high / c.cutPoints.medium),
            "support": .string(c.support.rawValue),
            "highSupport": .string(c.highSupport.rawValue),
            "shape": .object(["edge": .number(c.shape.edge), "quantile": .number(c.shape.quantile),
                              "highQuantile": .number(c.shape.highQuantile), "priorMedian": .number(c.shape.priorMedian),
                              "priorSD": .number(c.shape.priorSD), "ratioMedian": .number(c.shape.ratioMedian),
                              "ratioSD": .number(c.shape.ratioSD), "positionSD": .optional(c.shape.positionSD)]),
            "keptTask": .int(c.keptTask),
            "forgot": .int(c.forgot),
            "rightBand": .int(c.rightBand),
            "highCalledLow": .int(c.highCalledLow),
            "spearman": .optional(c.spearman),
            "summary": .array(Sentences.calibration(c).map { .string($0) }),
        ]))
    }
}
