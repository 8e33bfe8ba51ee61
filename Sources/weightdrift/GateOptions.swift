import Checkpoint
import ArgumentParser
import Drift
import Foundation

/// The flags that decide the gate, shared by `compare` and `trend`. They override the policy
/// file, which overrides the defaults.
struct GateOptions: ParsableArguments {
    @Option(name: .long, help: "How to pair layers: auto (names, then normalised names, then order by shape), name, or order.")
    var match: MatchOption = .auto

    @Option(name: .long, help: "A YAML policy file: thresholds and per-layer rules.")
    var policy: String?

    @Option(name: .long, help: "Warn when a layer's relative change exceeds this (default 0.05).")
    var warnRelativeChange: Double?

    @Option(name: .long, help: "Fail when a layer's relative change exceeds this (default 0.20).")
    var failRelativeChange: Double?

    @Option(name: .long, help: "Warn when a layer's cosine similarity is below this (default 0.999).")
    var warnCosine: Double?

    @Option(name: .long, help: "Fail when a layer's cosine similarity is below this (default 0.98).")
    var failCosine: Double?

    @Option(name: .customLong("warn"), help: ArgumentHelp("Warn when a layer's figure is beyond this limit (repeatable); METRIC is one of "
                                                         + Metric.gateable.map(\.key).joined(separator: ", ") + ".",
                                                         valueName: "METRIC=LIMIT"))
    var warnLimits: [String] = []

    @Option(name: .customLong("fail"), help: ArgumentHelp("Fail when a layer's figure is beyond this limit (repeatable); METRIC as for --warn.",
                                                         valueName: "METRIC=LIMIT"))
    var failLimits: [String] = []

    @Flag(name: .long, help: "Warnings fail the gate too.")
    var failOnWarn = false

    @Flag(name: .long, help: "Fail when the tuned checkpoint has layers the base does not.")
    var disallowNew = false

    @Flag(name: .long, help: "Fail when the base checkpoint has layers the tuned one lacks.")
    var disallowRemoved = false

    @Option(name: .long, help: "A glob of layers that are the task head, left out of the forgetting risk (repeatable).")
    var head: [String] = []

    @Option(name: .long, help: "Fail the gate when the forgetting risk reaches this level: medium or high.")
    var failOnRisk: RiskOption?

    @Option(name: .long, help: "Fail the gate when less than this share of the base's parameters was compared (default 0.5).")
    var minCoverage: Double?

    @Option(name: .long, help: ArgumentHelp("Rename the tuned file's layer/weight paths before pairing (repeatable; applied in order, before the policy's rename rules).",
                                            valueName: "REGEX=REPLACEMENT"))
    var rename: [String] = []

    /// Every limit given by a flag: the named flags and `--warn`/`--fail METRIC=LIMIT`, in order.
    func limits() throws -> [(level: String, metric: Metric, limit: Double)] {
        var result: [(level: String, metric: Metric, limit: Double)] = []
        for (level, metric, value) in [("warn", Metric.relativeChange, warnRelativeChange), ("fail", .relativeChange, failRelativeChange),
                                       ("warn", .cosine, warnCosine), ("fail", .cosine, failCosine)] {
            if let value { result.append((level, metric, value)) }
        }
        for (level, items) in [("warn", warnLimits), ("fail", failLimits)] {
            for item in items {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, let metric = Metric.named(parts[0]), let limit = Double(parts[1]) else {
                    throw ValidationError("--\(level) '\(item)': expected METRIC=LIMIT with METRIC one of "
                                          + Metric.gateable.map(\.key).joined(separator: ", "))
                }
                result.append((level, metric, limit))
            }
        }
        return result
    }

    func validate() throws {
        for (level, metric, limit) in try limits() where !(limit.isFinite && metric.domain.contains(limit)) {
            let flag = [Metric.relativeChange, .cosine].contains(metric) ? "--\(level)-\(metric.flagName)" : "--\(level) \(metric.key)"
            throw ValidationError("\(flag) must be a finite number \(metric.domainText)")
        }
        if let minCoverage, !(minCoverage.isFinite && minCoverage >= 0 && minCoverage <= 1) {
            throw ValidationError("--min-coverage must be a share between 0 and 1")
        }
    }

    func makePolicy() throws -> Policy {
        var result = Policy()
        if let path = policy {
            let status = FileStatus(path: path)
            guard status?.isRegular == true else {
                throw CLIError(message: "\(path): the policy file is missing or not a regular file")
            }
            guard (status?.size ?? 0) <= 1 << 20 else {
                throw CLIError(message: "\(path): the policy file is larger than 1 MiB")
            }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw CLIError(message: "\(path): cannot read the policy file")
            }
            do {
                result = try Policy.load(yaml: text, source: path)
            } catch let error as PolicyError {
                throw CLIError(message: error.description)
            }
        }
        // Flags' rename rules run before the policy's.
        result.renames = try rename.map(Self.renameRule) + result.renames
        var warnGiven: Set<String> = []
        var failGiven = false
        for (level, metric, limit) in try limits() {
            if level == "warn" {
                result.thresholds.warn[metric] = limit
                warnGiven.insert("warn.\(metric.key)")
            } else {
                result.thresholds.fail[metric] = limit
                failGiven = true
            }
        }
        if failGiven { result.thresholds = result.thresholds.followingFail(warnGiven: warnGiven) }
        if let minCoverage { result.minCoverage = minCoverage }
        if failOnWarn { result.failOnWarn = true }
        if disallowNew { result.allowNew = false }
        if disallowRemoved { result.allowRemoved = false }
        result.headPatterns += head
        if let failOnRisk { result.failOnRisk = failOnRisk.risk }
        return result
    }

    /// `REGEX=REPLACEMENT`, split at the last `=` (a regex may hold one, as in `(?=…)`).
    static func renameRule(_ text: String) throws -> RenameRule {
        guard let equals = text.lastIndex(of: "=") else {
            throw CLIError(message: "--rename '\(text)': expected REGEX=REPLACEMENT")
        }
        do {
            return try RenameRule(side: .tuned, pattern: String(text[..<equals]), replacement: String(text[text.index(after: equals)...]),
                                  label: "--rename '\(text)'")
        } catch let error as PolicyError {
            throw CLIError(message: error.description)
        }
    }

}
