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

    func validate() throws {
        for (name, value) in [("--warn-relative-change", warnRelativeChange), ("--fail-relative-change", failRelativeChange)] {
            if let value, !(value.isFinite && value >= 0) {
                throw ValidationError("\(name) must be a finite number ≥ 0")
            }
        }
        if let minCoverage, !(minCoverage.isFinite && minCoverage >= 0 && minCoverage <= 1) {
            throw ValidationError("--min-coverage must be a share between 0 and 1")
        }
        for (name, value) in [("--warn-cosine", warnCosine), ("--fail-cosine", failCosine)] {
            if let value, !(value.isFinite && value >= -1 && value <= 1) {
                throw ValidationError("\(name) must be a finite number between -1 and 1")
            }
        }
    }

    func makePolicy() throws -> Policy {
        var result = Policy()
        if let path = policy {
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            let attributes = try? FileManager.default.attributesOfItem(atPath: resolved)
            guard attributes?[.type] as? FileAttributeType == .typeRegular else {
                throw CLIError(message: "\(path): the policy file is missing or not a regular file")
            }
            guard (attributes?[.size] as? UInt64 ?? 0) <= 1 << 20 else {
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
        if let value = warnRelativeChange { result.thresholds.warn.relativeChange = value }
        if let value = failRelativeChange { result.thresholds.fail.relativeChange = value }
        if let value = warnCosine { result.thresholds.warn.cosine = value }
        if let value = failCosine { result.thresholds.fail.cosine = value }
        var warnGiven: Set<String> = []
        if warnRelativeChange != nil { warnGiven.insert("warn.relativeChange") }
        if warnCosine != nil { warnGiven.insert("warn.cosine") }
        if failRelativeChange != nil || failCosine != nil { result.thresholds = result.thresholds.followingFail(warnGiven: warnGiven) }
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
