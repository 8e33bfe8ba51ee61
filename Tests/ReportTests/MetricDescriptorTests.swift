import Checkpoint
import Drift
import Foundation
import Report
import SampleFixtures
import Testing

/// `Metric.all` is the one list of drift figures: every renderer, policy key, flag and verdict
/// follows it. Checked on a real fine-tune (samples/k3, written by tools/make_samples.py).
@Suite struct MetricDescriptorTests {
    static let base = "samples/k3/pretrained.keras"
    static let tuned = "samples/k3/ft_lowlr.keras"

    static func report(_ policy: Policy = Policy()) throws -> DriftReport {
        try DriftEngine.compare(base: Checkpoint.open(Samples.path("k3/pretrained.keras")),
                                tuned: Checkpoint.open(Samples.path("k3/ft_lowlr.keras")), policy: policy)
    }

    @Test func theListNamesEachFigureOnce() throws {
        let keys = Metric.all.map(\.key)
        #expect(Set(keys).count == keys.count)
        #expect(keys.count >= 7)
        // Every gateable metric can be named; the ones with defaults are exactly the default thresholds.
        #expect(Metric.gateable.count >= 2)
        #expect(Metric.gateable.allSatisfy { Metric.named($0.key) == $0 })
        #expect(Metric.named("normRatio") == nil, "the norm ratio has no bad direction")
        for metric in Metric.gatedByDefault {
            #expect(Thresholds.defaults.warn[metric] == metric.defaults?.warn)
            #expect(Thresholds.defaults.fail[metric] == metric.defaults?.fail)
        }
        #expect(Set(Thresholds.defaults.warn.values.keys) == Set(Metric.gatedByDefault.map(\.key)))
        #expect(Sentences.thresholds(.defaults) == "warn when relative change > 0.05 or cosine < 0.999; fail when > 0.2 or < 0.98")
    }

    @Test func everyFigureIsAFieldOfEveryLayerAndWeightInJSON() throws {
        let report = try Self.report()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(CompareJSON.render(report).utf8)) as? [String: Any])
        let layers = try #require(object["layers"] as? [[String: Any]])
        try #require(layers.count == report.layers.count && !layers.isEmpty)
        for (row, layer) in zip(layers, report.layers) {
            let sums = try #require(layer.sums)
            for metric in Metric.all {
                // Foundation's JSON parser may round the last digit: equal to 1e-12 relative.
                let shown = try #require(row[metric.key] as? Double, "\(layer.name).\(metric.key)")
                let value = try #require(metric.value(sums))
                #expect(abs(shown - value) <= 1e-12 * abs(value), "\(layer.name).\(metric.key)")
            }
            let weights = try #require(row["weights"] as? [[String: Any]])
            for (w, weight) in zip(weights, layer.weights) {
                for metric in Metric.all { #expect(w.keys.contains(metric.key), "\(layer.name)/\(weight.name).\(metric.key)") }
            }
        }
    }

    @Test func everyColumnIsShownWhereItIsPlaced() throws {
        let report = try Self.report()
        let outputs: [(Metric.Place, String)] = [(.table, CompareText.table(report, color: false)), (.markdown, CompareText.markdown(report)),
                                                 (.html, HTMLReport.render(report)), (.detail, CompareText.junit(report))]
        for (place, output) in outputs {
            let columns = Metric.columns(in: place)
            #expect(!columns.isEmpty)
            for metric in columns {
                let header = try #require(metric.columns[place])
                let shown = place == .html ? HTMLReport.escape(header) : header
                #expect(output.contains(shown), "\(place): \(header)")
            }
        }
        // The table's cells are the figures as their metrics print them.
        let table = CompareText.table(report, color: false)
        let layer = try #require(report.layers.last), sums = try #require(layer.sums)
        let line = try #require(table.split(separator: "\n").first { $0.hasPrefix(layer.name + " ") })
        for metric in Metric.columns(in: .table) {
            #expect(line.contains(Sentences.figure(metric, try #require(metric.value(sums)))), "\(metric.key)")
        }
    }

    @Test func everyGateableFigureIsAPolicyKey() throws {
        for metric in Metric.gateable {
            let limit = metric.domain.upperBound == .greatestFiniteMagnitude ? 0.5 : (metric.domain.lowerBound + metric.domain.upperBound) / 2
            let yaml = "thresholds:\n  fail: {\(metric.key): \(limit)}\nrules:\n  - match: dense\n    warn: {\(metric.key): \(limit)}\n"
            let policy = try Policy.load(yaml: yaml, source: "p.yaml")
            #expect(policy.thresholds.fail[metric] == limit, "\(metric.key)")
            guard case .thresholds(let own) = policy.rules.first?.action else {
                Issue.record("\(metric.key): the rule has no thresholds")
                continue
            }
            #expect(own.warn[metric] == limit, "\(metric.key)")
        }
        #expect(throws: PolicyError.self) { try Policy.load(yaml: "thresholds:\n  warn: {maxAbsChang: 1}\n", source: "p.yaml") }
        #expect(throws: PolicyError.self) { try Policy.load(yaml: "thresholds:\n  warn: {normRatio: 1}\n", source: "p.yaml") }
    }

    /// A limit just on the bad side of a real layer's figure flips its verdict, from the policy
    /// file and from `--fail`/`--warn`.
    @Test(arguments: Metric.gateable.map(\.key))
    func aLimitOnEachGateableFigureFlipsAVerdict(_ key: String) throws {
        let metric = try #require(Metric.named(key))
        let report = try Self.report()
        let layer = try #require(report.layers.first { $0.status == .ok && ($0.sums.flatMap(metric.value) ?? 0) > 0 }, "an ok layer with a \(key)")
        let value = try #require(layer.sums.flatMap(metric.value))
        let limit = metric.worse == .lower ? (value + metric.domain.upperBound) / 2 : value / 2
        let args = ["compare", Self.base, Self.tuned, "--format", "json"]
        #expect(try CLI.run(args).status == 0)
        let folder = try Samples.temporaryDirectory()
        let policy = folder.appendingPathComponent("policy.yaml")
        try "rules:\n  - match: \"\(layer.name)\"\n    fail: {\(key): \(limit)}\n".write(to: policy, atomically: true, encoding: .utf8)
        for (extra, status, exit) in [(["--policy", policy.path], "fail", Int32(1)), (["--fail", "\(key)=\(limit)"], "fail", 1),
                                      (["--warn", "\(key)=\(limit)"], "warn", 0), (["--warn", "\(key)=\(limit)", "--fail-on-warn"], "warn", 1)] {
            let result = try CLI.run(args + extra)
            #expect(result.status == exit, "\(extra): \(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let row = try #require((object["layers"] as? [[String: Any]])?.first { $0["name"] as? String == layer.name })
            #expect(row["status"] as? String == status, "\(extra)")
            let reasons = try #require(row["reasons"] as? [String])
            #expect(reasons.contains { $0.hasPrefix("\(metric.label) ") && $0.contains(" \(metric.relation) ") }, "\(extra): \(reasons)")
        }
    }

    @Test func limitsOnNewFiguresAreValidatedLikeTheDefaults() throws {
        let looser = try CLI.run(["compare", Self.base, Self.tuned, "--warn", "maxAbsChange=0.5", "--fail", "maxAbsChange=0.1"])
        #expect(looser.status == 2)
        #expect(looser.stderr.contains("warn max-abs-change threshold 0.5 is above the fail threshold 0.1"), "\(looser.stderr)")
        let outside = try CLI.run(["compare", Self.base, Self.tuned, "--fail", "changedFraction=1.5"])
        #expect(outside.status == 2)
        #expect(outside.stderr.contains("changedFraction"), "\(outside.stderr)")
        let unknown = try CLI.run(["compare", Self.base, Self.tuned, "--warn", "normRatio=2"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("METRIC one of relativeChange, cosine"), "\(unknown.stderr)")
        // A warn limit not given follows a stricter fail limit, for every metric.
        #expect(throws: PolicyError.self) {
            try Policy.load(yaml: "thresholds:\n  warn: {maxAbsChange: 0.3}\n  fail: {maxAbsChange: 0.1}\n", source: "p.yaml")
        }
        var flags = Policy()
        flags.thresholds.warn[.maxAbsChange] = 0.3
        flags.thresholds.fail[.maxAbsChange] = 0.1
        #expect(flags.thresholds.followingFail(warnGiven: []).warn[.maxAbsChange] == 0.1)
    }
}
