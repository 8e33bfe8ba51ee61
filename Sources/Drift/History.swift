import Checkpoint
import Foundation

/// A Keras CSVLogger log: one row per epoch.
public struct TrainingHistory: Sendable {
    public let path: String
    /// Column names as in the header (`epoch`, `loss`, `val_loss`, metrics, `learning_rate`/`lr`).
    public let columns: [String]
    /// Values per column, one per epoch (NaN/Inf kept as such).
    public let values: [String: [Double]]
    public let epochs: [Int]

    /// Parses a CSVLogger log held in memory (tests). A malformed line is an error naming the file and the line.
    public init(path: String, text: String) throws {
        var parser = Parser(path: path)
        var number = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            try parser.add(String(line), number: number)
        }
        self = try parser.finish()
    }

    /// Reads a CSVLogger file as a stream, line by line, with every size bounded: a line longer
    /// than `lineByteLimit`, more than `epochLimit` epochs or `columnLimit` columns are refused
    /// (naming the line) before memory grows with them.
    public init(path: String) throws {
        guard FileStatus(path: path)?.isRegular == true else {
            throw HistoryError(path: path, line: 1, message: "not a regular file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw HistoryError(path: path, line: 1, message: "cannot open for reading")
        }
        defer { try? handle.close() }
        func tooLong(_ line: Int) -> HistoryError {
            HistoryError(path: path, line: line, message: "line is longer than \(Self.lineByteLimit >> 10) KiB: not a CSVLogger log")
        }
        var parser = Parser(path: path)
        var pending: [UInt8] = []
        var number = 0
        var previousCR = false
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 16) ?? Data()
            } catch {
                throw HistoryError(path: path, line: number + 1, message: "cannot read: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            try chunk.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                var start = 0
                for index in 0..<bytes.count {
                    let byte = bytes[index]
                    guard byte == 0x0A || byte == 0x0D else { continue }
                    pending.append(contentsOf: bytes[start..<index])
                    start = index + 1
                    if byte == 0x0A && previousCR && pending.isEmpty { previousCR = false; continue }  // \r\n is one line end
                    previousCR = byte == 0x0D
                    guard pending.count <= Self.lineByteLimit else { throw tooLong(number + 1) }
                    number += 1
                    try parser.add(String(decoding: pending, as: UTF8.self), number: number)
                    pending.removeAll(keepingCapacity: true)
                }
                if start < bytes.count {
                    previousCR = false
                    pending.append(contentsOf: bytes[start...])
                }
                guard pending.count <= Self.lineByteLimit else { throw tooLong(number + 1) }
            }
        }
        number += 1
        try parser.add(String(decoding: pending, as: UTF8.self), number: number)
        self = try parser.finish()
    }

    public static let lineByteLimit = 1 << 20
    /// CSVLogger writes a line per epoch: no training runs this many.
    public static let epochLimit = 100_000
    public static let columnLimit = 1_000
    /// Values kept in memory at most (epochs × columns): 80 MB of Doubles.
    public static let cellLimit = 10_000_000

    private init(path: String, columns: [String], values: [String: [Double]], epochs: [Int]) {
        self.path = path
        self.columns = columns
        self.values = values
        self.epochs = epochs
    }

    /// Line-by-line parsing; blank lines are kept until a non-blank one shows they are not trailing.
    struct Parser {
        let path: String
        var columns: [String] = []
        var separator: Character = ","
        var values: [[Double]] = []
        var epochs: [Int] = []
        var blankLines: [Int] = []

        init(path: String) { self.path = path }

        mutating func add(_ line: String, number: Int) throws {
            if line.trimmingCharacters(in: .whitespaces).isEmpty, number > 1 {
                blankLines.append(number)
                return
            }
            if let blank = blankLines.first {
                throw HistoryError(path: path, line: blank, message: "has 1 fields, the header \(columns.count)")
            }
            if number == 1 {
                guard !line.isEmpty else {
                    throw HistoryError(path: path, line: 1, message: "empty file; expected a CSVLogger header (epoch,loss,…)")
                }
                separator = line.contains(",") ? "," : (line.contains("\t") ? "\t" : ",")
                columns = line.split(separator: separator, omittingEmptySubsequences: false).map {
                    $0.trimmingCharacters(in: .whitespaces)
                }
                guard columns.count <= TrainingHistory.columnLimit else {
                    throw HistoryError(path: path, line: 1, message: "header has \(columns.count) columns, more than the \(TrainingHistory.columnLimit) read")
                }
                var seen = Set<String>()
                for column in columns where !seen.insert(column).inserted {
                    throw HistoryError(path: path, line: 1, message: "column '\(column)' appears twice in the header")
                }
                guard seen.contains("epoch"), seen.contains("loss") else {
                    throw HistoryError(path: path, line: 1, message: "header has no epoch and loss columns: not a Keras CSVLogger log")
                }
                values = columns.map { _ in [] }
                return
            }
            let cells = line.split(separator: separator, omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count == columns.count else {
                throw HistoryError(path: path, line: number, message: "has \(cells.count) fields, the header \(columns.count)")
            }
            guard epochs.count < TrainingHistory.epochLimit, (epochs.count + 1) * columns.count <= TrainingHistory.cellLimit else {
                throw HistoryError(path: path, line: number,
                                   message: "more than \(min(TrainingHistory.epochLimit, TrainingHistory.cellLimit / columns.count)) epochs: not read")
            }
            var epoch = Double.nan
            for (index, cell) in cells.enumerated() {
                guard let value = TrainingHistory.number(cell) else {
                    throw HistoryError(path: path, line: number, message: "\(columns[index]) is '\(cell)', not a number")
                }
                values[index].append(value)
                if columns[index] == "epoch" { epoch = value }
            }
            // An epoch is a whole number an Int holds (1e19 is not: converting it would trap).
            guard epoch.isFinite, epoch == epoch.rounded(), epoch >= 0, epoch < 1e15 else {
                throw HistoryError(path: path, line: number, message: "epoch is not a whole number below 10^15")
            }
            epochs.append(Int(epoch))
        }

        func finish() throws -> TrainingHistory {
            guard !columns.isEmpty else {
                throw HistoryError(path: path, line: 1, message: "empty file; expected a CSVLogger header (epoch,loss,…)")
            }
            guard !epochs.isEmpty else { throw HistoryError(path: path, line: 2, message: "no epochs logged") }
            return TrainingHistory(path: path, columns: columns,
                                   values: Dictionary(uniqueKeysWithValues: zip(columns, values)), epochs: epochs)
        }
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
