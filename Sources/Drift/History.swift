import Foundation

/// A Keras CSVLogger log: one row per epoch.
public struct TrainingHistory: Sendable {
    public let path: String
    /// Column names as in the header (`epoch`, `loss`, `val_loss`, metrics, `learning_rate`/`lr`).
    public let columns: [String]
    /// Values per column, one per epoch (NaN/Inf kept as such).
    public let values: [String: [Double]]
    public let epochs: [Int]

    /// Parses a CSVLogger file. A malformed line is an error naming the file and the line.
    public init(path: String, text: String) throws {
        self.path = path
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        while lines.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { lines.removeLast() }
        guard let header = lines.first, !header.isEmpty else {
            throw HistoryError(path: path, line: 1, message: "empty file; expected a CSVLogger header (epoch,loss,…)")
        }
        let separator: Character = header.contains(",") ? "," : (header.contains("\t") ? "\t" : ",")
        columns = header.split(separator: separator, omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard columns.contains("epoch"), columns.contains("loss") else {
            throw HistoryError(path: path, line: 1, message: "header has no epoch and loss columns: not a Keras CSVLogger log")
        }
        var values = Dictionary(uniqueKeysWithValues: columns.map { ($0, [Double]()) })
        var epochs: [Int] = []
        for (index, line) in lines.enumerated().dropFirst() {
            let cells = line.split(separator: separator, omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count == columns.count else {
                throw HistoryError(path: path, line: index + 1, message: "has \(cells.count) fields, the header \(columns.count)")
            }
            for (column, cell) in zip(columns, cells) {
                guard let value = Self.number(cell) else {
                    throw HistoryError(path: path, line: index + 1, message: "\(column) is '\(cell)', not a number")
                }
                values[column]!.append(value)
            }
            let epoch = values["epoch"]!.last!
            guard epoch.isFinite, epoch == epoch.rounded(), epoch >= 0 else {
                throw HistoryError(path: path, line: index + 1, message: "epoch is not a whole number")
            }
            epochs.append(Int(epoch))
        }
        guard !epochs.isEmpty else { throw HistoryError(path: path, line: 2, message: "no epochs logged") }
        self.values = values
        self.epochs = epochs
    }

    /// Python writes `nan`, `inf`, `-inf`.
    static func number(_ text: String) -> Double? {
        switch text.lowercased() {
        case "nan", "-nan": return .nan
        case "inf", "+inf", "infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        default: return Double(text)
        }
    }

    public var loss: [Double] { values["loss"] ?? [] }
    public var validationLoss: [Double]? { values["val_loss"] }
    public var learningRate: [Double]? { values["learning_rate"] ?? values["lr"] }
}

public struct HistoryError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let message: String
    public var description: String { "\(path): line \(line): \(message)" }
}

/// What a training log says: the best epoch, overfitting, divergence.
public struct HistoryAnalysis: Sendable {
    /// Epoch with the lowest finite validation loss (nil without val_loss).
    public let bestEpoch: Int?
    public let bestValidationLoss: Double?
    /// The epoch from which validation loss rose while training loss kept falling (nil: no overfitting).
    public let overfittingFrom: Int?
    /// Epochs with a NaN or Inf loss or validation loss.
    public let nonFiniteEpochs: [Int]
    public let findings: [String]

    /// Validation loss must end at least this much above its best, relatively, to call it overfitting
    /// (a flat plateau with noise is not).
    public static let minimumRise = 0.05

    public init(_ history: TrainingHistory) {
        let epochs = history.epochs
        let loss = history.loss
        var nonFinite: [Int] = []
        for (index, epoch) in epochs.enumerated() {
            if !loss[index].isFinite || !(history.validationLoss?[index].isFinite ?? true) { nonFinite.append(epoch) }
        }
        nonFiniteEpochs = nonFinite
        var findings: [String] = []

        guard let validation = history.validationLoss else {
            bestEpoch = nil
            bestValidationLoss = nil
            overfittingFrom = nil
            findings.append("no val_loss column: train with validation data to detect overfitting")
            if let first = nonFinite.first { findings.append("loss is NaN or Inf from epoch \(first) (\(nonFinite.count) epochs): training diverged") }
            self.findings = findings
            return
        }
        let finite = validation.indices.filter { validation[$0].isFinite }
        guard let best = finite.min(by: { validation[$0] < validation[$1] }) else {
            bestEpoch = nil
            bestValidationLoss = nil
            overfittingFrom = nil
            findings.append("validation loss is never finite: training diverged from epoch \(epochs[0])")
            self.findings = findings
            return
        }
        bestEpoch = epochs[best]
        bestValidationLoss = validation[best]
        // Every later epoch is above the best by definition; overfitting is when the last one is
        // clearly above it (at least two epochs on) while the training loss ended below its value then.
        let last = validation.count - 1
        let trainingKeptFalling = best < last && loss[last].isFinite && loss[best].isFinite && loss[last] < loss[best]
        let rose = best < last - 1 && validation[last].isFinite
            && validation[last] > validation[best] * (1 + Self.minimumRise)
        if rose && trainingKeptFalling {
            overfittingFrom = epochs[best + 1]
            findings.append("overfitting from epoch \(epochs[best + 1]): val_loss rose from \(format(validation[best])) "
                + "(epoch \(epochs[best])) to \(format(validation[last])) while loss fell from \(format(loss[best])) "
                + "to \(format(loss[last])); keep the checkpoint of epoch \(epochs[best])")
        } else {
            overfittingFrom = nil
        }
        if let first = nonFinite.first {
            findings.append("loss or val_loss is NaN or Inf from epoch \(first) (\(nonFinite.count) epochs): training diverged; "
                + "lower the learning rate or clip gradients")
        }
        self.findings = findings
    }
}
