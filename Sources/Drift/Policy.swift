public import Checkpoint
import Foundation

/// The limits of one level (warn or fail), by metric (see `Metric`): a layer reaches the level
/// when one of its figures is beyond its limit in the metric's bad direction. A metric without a
/// limit is not judged at this level.
public struct Limits: Sendable, Equatable {
    /// Limit by metric key.
    public private(set) var values: [String: Double] = [:]

    public init(_ limits: [Metric: Double] = [:]) {
        for (metric, limit) in limits { self[metric] = limit }
    }

    public init(relativeChange: Double, cosine: Double) {
        self.init([.relativeChange: relativeChange, .cosine: cosine])
    }

    public subscript(metric: Metric) -> Double? {
        get { values[metric.key] }
        set { values[metric.key] = newValue }
    }

    /// The relative-change limit (every policy has one: it has a default).
    public var relativeChange: Double {
        get { self[.relativeChange] ?? .infinity }
        set { self[.relativeChange] = newValue }
    }

    /// The cosine limit (every policy has one: it has a default).
    public var cosine: Double {
        get { self[.cosine] ?? -1 }
        set { self[.cosine] = newValue }
    }
}

public struct Thresholds: Sendable, Equatable {
    public var warn: Limits
    public var fail: Limits

    /// The metrics' default limits; see the README's "Default thresholds" for where they come from.
    public static let defaults = Thresholds(
        warn: Limits(Dictionary(uniqueKeysWithValues: Metric.gatedByDefault.map { ($0, $0.defaults!.warn) })),
        fail: Limits(Dictionary(uniqueKeysWithValues: Metric.gatedByDefault.map { ($0, $0.defaults!.fail) })))

    public init(warn: Limits, fail: Limits) {
        self.warn = warn
        self.fail = fail
    }

    /// A warn limit the user did not give follows a stricter fail limit (so `fail 0.03` alone
    /// does not leave warn at 0.05 above it). `warnGiven` holds `warn.<metric key>` for the limits
    /// the user set; those are kept, and `validate` refuses them when they are looser than fail.
    public func followingFail(warnGiven: Set<String>) -> Thresholds {
        var result = self
        for metric in Metric.gateable where !warnGiven.contains("warn.\(metric.key)") {
            if let warn = result.warn[metric], let fail = result.fail[metric], metric.exceeds(warn, fail) {
                result.warn[metric] = fail
            }
        }
        return result
    }
}

/// A per-layer (or per-weight) rule: the first rule whose glob matches a layer's name (or
/// `layer/weight` for a weight) decides how it is judged.
public struct PolicyRule: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Reported, never gated.
        case ignore
        /// Must be bit-identical to the base; any change fails.
        case frozen
        /// Judged against these thresholds.
        case thresholds(Thresholds)
    }

    public var pattern: String
    public var action: Action
    /// Overrides the policy's allowNew/allowRemoved for layers this rule matches.
    public var allowNew: Bool?
    public var allowRemoved: Bool?

    public init(pattern: String, action: Action, allowNew: Bool? = nil, allowRemoved: Bool? = nil) {
        self.pattern = pattern
        self.action = action
        self.allowNew = allowNew
        self.allowRemoved = allowRemoved
    }

    public func matches(_ name: String) -> Bool { Glob.matches(pattern, name) }
}

/// Everything that decides verdicts. The CLI flags, the YAML policy file and the tests all
/// build this one value.
public struct Policy: Sendable, Equatable {
    public var thresholds: Thresholds = .defaults
    /// A warning fails the gate too.
    public var failOnWarn = false
    /// Layers only in the tuned file (a new head) pass the gate unless this is false.
    public var allowNew = true
    /// Layers only in the base file pass the gate unless this is false.
    public var allowRemoved = true
    /// Any NaN or Inf in the tuned checkpoint fails its layer.
    public var failOnNonFinite = true
    public var rules: [PolicyRule] = []
    /// Regex rules that rename one file's `layer/weight` paths before layers are paired.
    public var renames: [RenameRule] = []
    /// Globs of layers that are the task head (left out of the forgetting assessment's backbone).
    public var headPatterns: [String] = []
    /// Fail the gate when the forgetting risk reaches this level (nil: the risk never gates).
    public var failOnRisk: ForgettingAssessment.Risk?
    /// Fail the gate when less than this share of the base's parameters was compared.
    public var minCoverage = 0.5
    /// The forgetting levels' cut points fitted by `weightdrift calibrate` (policy `forgetting:`);
    /// nil: the uncalibrated defaults.
    public var forgettingCutPoints: ForgettingAssessment.CutPoints?

    public init() {}

    /// The first rule matching the layer name.
    public func rule(forLayer name: String) -> PolicyRule? {
        rules.first { $0.matches(name) }
    }

    /// The first rule that names this weight (`layer/weight`) and not its whole layer.
    public func rule(forWeight weight: String, inLayer layer: String) -> PolicyRule? {
        rules.first { $0.matches("\(layer)/\(weight)") && !$0.matches(layer) }
    }

    /// Checks the numbers a user can set: finite, not negative, cosines at most 1, warn limits no
    /// looser than fail limits, coverage a share.
    public func validate() throws {
        func check(_ thresholds: Thresholds, _ what: String) throws {
            for metric in Metric.gateable {
                for (level, limit) in [("warn", thresholds.warn[metric]), ("fail", thresholds.fail[metric])] {
                    guard let limit else { continue }
                    guard limit.isFinite, metric.domain.contains(limit) else {
                        throw PolicyError("\(what)\(level) \(metric.flagName) threshold must be a finite number \(metric.domainText), got \(limit)")
                    }
                }
                guard let warn = thresholds.warn[metric], let fail = thresholds.fail[metric], metric.exceeds(warn, fail) else { continue }
                throw PolicyError(metric.worse == .lower
                    ? "\(what)warn \(metric.flagName) threshold \(warn) is below the fail threshold \(fail); "
                        + "the warn \(metric.flagName) must not be below the fail \(metric.flagName)"
                    : "\(what)warn \(metric.flagName) threshold \(warn) is above the fail threshold \(fail); warn must not be above fail")
            }
        }
        try check(thresholds, "")
        for rule in rules {
            if case .thresholds(let own) = rule.action { try check(own, "rule '\(rule.pattern)' ") }
        }
        guard minCoverage.isFinite, minCoverage >= 0, minCoverage <= 1 else {
            throw PolicyError("minimum coverage must be a share between 0 and 1, got \(minCoverage)")
        }
        if let cuts = forgettingCutPoints {
            guard cuts.medium.isFinite, cuts.high.isFinite, cuts.medium > 0, cuts.medium <= cuts.high else {
                throw PolicyError("forgetting cut points must be finite numbers with 0 < medium ≤ high, got medium \(cuts.medium), "
                                  + "high \(cuts.high)")
            }
        }
    }

    /// A rule or head glob that matches nothing would silently not apply: a usage error, naming it.
    /// Rules may name a layer (in either file) or a `layer/weight`.
    public func checkEveryPatternMatches(base: [Layer], tuned: [Layer]) throws {
        var names: [String] = []
        for layer in base + tuned {
            names.append(layer.name)
            for weight in layer.weights { names.append("\(layer.name)/\(weight.name)") }
        }
        for (index, rule) in rules.enumerated() where !names.contains(where: rule.matches) {
            throw PolicyError("policy rule \(index + 1) (match: '\(rule.pattern)') matches no layer or weight in either file; "
                              + "fix or remove it (a rule that matches nothing does not apply)")
        }
        let layerNames = (base + tuned).map(\.name)
        for pattern in headPatterns where !layerNames.contains(where: { Glob.matches(pattern, $0) }) {
            throw PolicyError("head glob '\(pattern)' matches no layer in either file; fix or remove it")
        }
    }
}

public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Shell-style globs: `*` any run of characters (including `/`), `?` one character, `[abc]` a set.
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var pi = 0, ti = 0, starP = -1, starT = 0
        while ti < t.count {
            if pi < p.count, p[pi] == "*" {
                starP = pi
                starT = ti
                pi += 1
            } else if pi < p.count, let width = matchOne(p, pi, t[ti]) {
                pi += width
                ti += 1
            } else if starP >= 0 {
                pi = starP + 1
                starT += 1
                ti = starT
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// If the pattern element at `pi` matches `c`, how many pattern characters it spans.
    private static func matchOne(_ p: [Character], _ pi: Int, _ c: Character) -> Int? {
        switch p[pi] {
        case "?": return 1
        case "[":
            guard let close = p[(pi + 1)...].firstIndex(of: "]"), close > pi + 1 else { return p[pi] == c ? 1 : nil }
            var set = Array(p[(pi + 1)..<close])
            let negate = set.first == "!" || set.first == "^"
            if negate { set.removeFirst() }
            var hit = false
            var i = 0
            while i < set.count {
                if i + 2 < set.count, set[i + 1] == "-" {
                    if set[i] <= c && c <= set[i + 2] { hit = true }
                    i += 3
                } else {
                    if set[i] == c { hit = true }
                    i += 1
                }
            }
            return hit != negate ? close - pi + 1 : nil
        default:
            return p[pi] == c ? 1 : nil
        }
    }
}
