import ArgumentParser
import Checkpoint
import Drift
import Foundation
import Report

struct Calibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit the forgetting levels' cut points to fine-tunes of your own whose forgetting you measured.",
        discussion: """
        RUNS.csv has one row per fine-tune: base,tuned,forgetting — the pretrained and the fine-tuned \
        checkpoint (paths relative to the CSV's folder) and the points of original-task accuracy the \
        fine-tune lost (e.g. 12.5 for 90% → 77.5%). A header line base,tuned,forgetting is allowed. \
        Prints each run's score, how well the fitted cut points separate the runs, when the fit rests on \
        the shape shared across architectures, and a policy fragment `forgetting: {medium: …, high: …}` \
        that `compare --policy` applies. One run that lost 5 points or more is enough. Exit 0; 2 on bad \
        input, or when the runs cannot support a fit (no positive finite score, or every run kept the \
        task and barely moved).
        """
    )

    @Argument(help: "CSV of labelled runs: base,tuned,forgetting.")
    var runs: String

    @Option(name: .long, help: "Output format: table or json.")
    var format: OutputFormat = .table

    @OptionGroup var gate: GateOptions

    func run() throws {
        guard let text = try? String(contentsOfFile: runs, encoding: .utf8) else {
            throw CLIError(message: "\(runs): cannot read the runs file")
        }
        let policy = try gate.makePolicy()
        let rows: [(base: String, tuned: String, forgetting: Double)]
        do {
            rows = try ForgettingCalibration.parseRuns(text, source: runs)
        } catch let error as PolicyError {
            throw CLIError(message: error.description)
        }
        var labelled: [ForgettingCalibration.Run] = []
        for row in rows {
            let report: DriftReport
            do {
                report = try DriftEngine.compare(base: Checkpoint.open(row.base), tuned: Checkpoint.open(row.tuned), policy: policy,
                                                 mode: gate.match.mode)
            } catch let error as PolicyError {
                throw CLIError(message: "\(runs): \(row.tuned): \(error.description)")
            }
            let f = report.forgetting
            let score: Double? = if case .nonFinite = f.basis { .infinity } else { f.score }
            labelled.append(ForgettingCalibration.Run(base: row.base, tuned: row.tuned, forgetting: row.forgetting, score: score,
                                                      headDetected: f.detectedHead?.name))
        }
        let calibration: ForgettingCalibration
        do {
            calibration = try ForgettingCalibration(runs: labelled)
        } catch let failure as ForgettingCalibration.Failure {
            throw CLIError(message: "\(runs): \(Sentences.calibrationFailure(failure))")
        }
        try Console.write(format == .json ? CalibrationReport.json(calibration) : CalibrationReport.table(calibration), to: nil)
    }
}
