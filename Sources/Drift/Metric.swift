/// One drift figure, described once: its key (JSON field and policy key), where its value comes
/// from, which way is worse, its default limits, and how it prints. Policy keys, limits, flags,
/// verdicts, sentences and every renderer loop over `Metric.all`, so a new figure is one entry
/// here plus its kernel (the sums in `DriftSums` and the formula in `DriftMetrics`).
public struct Metric: Sendable, Hashable, CustomStringConvertible {
    public enum Worse: Sendable {
        /// Above the limit is bad.
        case higher
        /// Below the limit is bad.
        case lower
    }

    public enum Style: Sendable {
        /// Four significant digits.
        case number
        /// As many digits as it takes to tell the value from 1 (`0.999931`).
        case cosine
        /// A share, as a percentage.
        case percent
    }

    /// Where a figure is a column, and the column's header there.
    public enum Place: Sendable, Hashable {
        /// The terminal table.
        case table
        /// Markdown's table.
        case markdown
        /// The JUnit testcase's detail line.
        case detail
        /// The HTML report's layer table.
        case html
    }

    /// The JSON field and policy key: `relativeChange`.
    public let key: String
    /// In sentences: `relative change`.
    public let label: String
    /// In flags and validation messages: `relative-change` (`--warn-relative-change`).
    public let flagName: String
    /// The figure of a pair (or layer) of tensors; nil where it is undefined.
    public let value: @Sendable (DriftSums) -> Double?
    /// Nil for a figure that is shown but cannot be gated (a norm, the norm ratio).
    public let worse: Worse?
    public let style: Style
    /// What a limit may be.
    public let domain: ClosedRange<Double>
    /// The limits every policy starts from; nil: not gated unless a policy or flag sets a limit.
    public let defaults: (warn: Double, fail: Double)?
    public let columns: [Place: String]

    public var description: String { key }
    public var gateable: Bool { worse != nil }

    public static func == (a: Metric, b: Metric) -> Bool { a.key == b.key && a.label == b.label }
    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    /// Whether `value` is beyond `limit` in the bad direction.
    public func exceeds(_ value: Double, _ limit: Double) -> Bool {
        worse == .lower ? value < limit : value > limit
    }

    /// The domain in words: `≥ 0`, `in [-1, 1]`.
    public var domainText: String {
        func text(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
        return domain.upperBound == .greatestFiniteMagnitude ? "≥ \(text(domain.lowerBound))"
            : "in [\(text(domain.lowerBound)), \(text(domain.upperBound))]"
    }

    /// `>` or `<`: how a value beyond the limit relates to it.
    public var relation: String { worse == .lower ? "<" : ">" }

    public static let relativeChange = Metric(
        key: "relativeChange", label: "relative change", flagName: "relative-change", value: { $0.metrics?.relativeChange },
        worse: .higher, style: .number, domain: 0...Double.greatestFiniteMagnitude, defaults: (0.05, 0.20),
        columns: [.table: "rel.change", .markdown: "relative change", .html: "relative change", .detail: "relative change"])
    /// How a relative change over a base of about zero is reported: it is the RMS of the change.
    public static let relativeChangeOfZeroBase = Metric(
        key: "rmsChange", label: "RMS change (base ≈ 0)", flagName: "relative-change", value: relativeChange.value,
        worse: .higher, style: .number, domain: relativeChange.domain, defaults: nil, columns: [:])
    public static let cosine = Metric(
        key: "cosine", label: "cosine", flagName: "cosine", value: { $0.metrics?.cosine },
        worse: .lower, style: .cosine, domain: -1...1, defaults: (0.999, 0.98),
        columns: [.table: "cosine", .markdown: "cosine", .html: "cosine", .detail: "cosine"])
    public static let angleDegrees = Metric(
        key: "angleDegrees", label: "angle (degrees)", flagName: "angle", value: { $0.metrics?.angleDegrees },
        worse: .higher, style: .number, domain: 0...180, defaults: nil, columns: [:])
    public static let normRatio = Metric(
        key: "normRatio", label: "norm ratio", flagName: "norm-ratio", value: { $0.metrics?.normRatio },
        worse: nil, style: .number, domain: 0...Double.greatestFiniteMagnitude, defaults: nil, columns: [.html: "norm ratio"])
    public static let maxAbsChange = Metric(
        key: "maxAbsChange", label: "max abs change", flagName: "max-abs-change", value: { $0.metrics?.maxAbsChange },
        worse: .higher, style: .number, domain: 0...Double.greatestFiniteMagnitude, defaults: nil,
        columns: [.table: "max|Δ|", .markdown: "max abs change", .html: "max |Δ|", .detail: "max abs change"])
    public static let rmsChange = Metric(
        key: "rmsChange", label: "RMS change", flagName: "rms-change", value: { $0.metrics?.rmsChange },
        worse: .higher, style: .number, domain: 0...Double.greatestFiniteMagnitude, defaults: nil, columns: [:])
    /// Defined whenever values were compared, NaN included (it counts stored bits).
    public static let changedFraction = Metric(
        key: "changedFraction", label: "changed fraction", flagName: "changed-fraction", value: { $0.changedFraction },
        worse: .higher, style: .percent, domain: 0...1, defaults: nil,
        columns: [.table: "changed", .markdown: "changed", .html: "changed"])
    public static let baseNorm = Metric(
        key: "baseNorm", label: "base norm", flagName: "base-norm", value: { $0.metrics?.baseNorm },
        worse: nil, style: .number, domain: 0...Double.greatestFiniteMagnitude, defaults: nil, columns: [:])
    public static let tunedNorm = Metric(
        key: "tunedNorm", label: "tuned norm", flagName: "tuned-norm", value: { $0.metrics?.tunedNorm },
        worse: nil, style: .number, domain: 0...Double.greatestFiniteMagnitude, defaults: nil, columns: [:])
    public static let diffNorm = Metric(
        key: "diffNorm", label: "norm of the change", flagName: "diff-norm", value: { $0.metrics?.diffNorm },
        worse: nil, style: .number, domain: 0...Double.greatestFiniteMagnitude, defaults: nil, columns: [:])

    /// Every figure, in the order the tables show them.
    public static let all: [Metric] = [relativeChange, cosine, angleDegrees, normRatio, maxAbsChange, rmsChange, changedFraction,
                                       baseNorm, tunedNorm, diffNorm]
    /// The figures a policy may limit.
    public static let gateable = all.filter(\.gateable)
    /// The figures with default limits.
    public static let gatedByDefault = all.filter { $0.defaults != nil }

    public static func named(_ key: String) -> Metric? { gateable.first { $0.key == key } }

    /// The figures shown as columns in `place`, in order.
    public static func columns(in place: Place) -> [Metric] { all.filter { $0.columns[place] != nil } }
}
