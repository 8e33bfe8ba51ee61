public import Checkpoint
public import Drift

/// `compare --format json`. Versioned by `schemaVersion`; fields are added, never renamed.
public enum CompareJSON {
    public static let schemaVersion = 1

    public static func render(_ report: DriftReport) -> String { JSONWriter.write(json(report)) }

    public static func json(_ report: DriftReport) -> JSONValue {
        .object([
            "schemaVersion": .int(schemaVersion),
            "tool": ToolInfo.json,
            "base": input(report.base),
            "tuned": input(report.tuned),
            "matchMode": .string(report.matchMode.rawValue),
            "thresholds": policy(report.policy),
            "layers": .array(report.layers.map(layer)),
            "summary": summary(report),
            "notes": .array(report.notes.map { .string(Sentences.note($0)) }),
            "coverage": coverage(report.summary.coverage, minimum: report.policy.minCoverage),
            "training": .object([
                "base": TrainingReport.setupJSON(report.baseSetup),
                "tuned": TrainingReport.setupJSON(report.tunedSetup),
                "warnings": .array(report.warnings.map { .string(Sentences.warning($0)) }),
            ]),
            "diagnosis": .optional(report.diagnosis.map { Sentences.diagnosis($0) }),
            "baseDiagnosis": .optional(report.baseDiagnosis.map { Sentences.diagnosis($0) }),
            "forgetting": forgetting(report.forgetting),
            "reference": report.reference.map(reference) ?? .null,
        ])
    }

    static func reference(_ r: ReferenceComparison) -> JSONValue {
        .object([
            "path": .string(r.path),
            "maxRatio": .number(r.maxRatio),
            "tunedScore": .optional(r.tunedScore),
            "approvedScore": .optional(r.approvedScore),
            "overallRatio": .optional(r.overallRatio),
            "explanation": .string(Sentences.reference(r)),
            "layers": .array(r.layers.map { layer in
                .object(["name": .string(layer.name), "relativeChange": .number(layer.tuned),
                         "approvedRelativeChange": .number(layer.approved), "ratio": .optional(layer.ratio)])
            }),
        ])
    }

    static func forgetting(_ f: ForgettingAssessment) -> JSONValue {
        .object([
            "risk": .string(f.risk.rawValue),
            "score": .optional(f.score),
            "explanation": .string(Sentences.forgettingExplanation(f)),
            "rule": .string(Sentences.forgettingRule),
            "backboneRelativeChange": .optional(f.backboneRelativeChange),
            "earlyRelativeChange": .optional(f.earlyRelativeChange),
            "lateRelativeChange": .optional(f.lateRelativeChange),
            "headLayers": .array(f.headLayers.map { .string($0) }),
            "heads": .array(f.heads.map { head in
                var fields: [String: JSONValue] = ["name": .string(head.name)]
                switch head.reason {
                case .declared(let pattern): fields["reason"] = .string("declared"); fields["pattern"] = .string(pattern)
                case .new: fields["reason"] = .string("new")
                case .removed: fields["reason"] = .string("removed")
                case .reshaped: fields["reason"] = .string("reshaped")
                case .detected(let cosine, let change, let rest):
                    fields["reason"] = .string("detected")
                    fields["cosine"] = .number(cosine)
                    fields["relativeChange"] = .number(change)
                    fields["backboneRelativeChange"] = .number(rest)
                }
                return .object(fields)
            }),
            "detectedHead": .optional(f.detectedHead?.name),
            "runningStatisticsExcluded": .int(f.runningStatistics),
            "cutPoints": .object(["medium": .number(f.cutPoints.medium), "high": .number(f.cutPoints.high),
                                  "source": .string(f.cutPoints.source == .policy ? "policy" : "uncalibrated-defaults")]),
            "profile": .array(f.profile.map { point in
                .object(["name": .string(point.name), "depth": .number(point.depth),
                         "relativeChange": .optional(point.relativeChange), "parameters": .int(point.parameters)])
            }),
        ])
    }

    static func input(_ input: InputSummary) -> JSONValue {
        .object([
            "path": .string(input.path),
            "format": .string(input.format.rawValue),
            "sha256": .optional(input.sha256),
            "kerasVersion": .optional(input.kerasVersion),
            "layers": .int(input.layerCount),
            "parameters": .int(input.parameterCount),
            "layerOrder": .string(input.layerOrder),
            "optimizer": input.optimizer.map(InspectReport.optimizerJSON) ?? .null,
        ])
    }

    static func limits(_ limits: Limits) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: Metric.gateable.compactMap { metric in limits[metric].map { (metric.key, .number($0)) } }))
    }

    static func policy(_ policy: Policy) -> JSONValue {
        var fields: [String: JSONValue] = [
            "warn": limits(policy.thresholds.warn),
            "fail": limits(policy.thresholds.fail),
            "failOnWarn": .bool(policy.failOnWarn),
            "failOnNonFinite": .bool(policy.failOnNonFinite),
            "allowNew": .bool(policy.allowNew),
            "allowRemoved": .bool(policy.allowRemoved),
            "head": .array(policy.headPatterns.map { .string($0) }),
            "failOnRisk": .optional(policy.failOnRisk?.rawValue),
            "minCoverage": .number(policy.minCoverage),
            "rules": .array(policy.rules.map { rule in
                var fields: [String: JSONValue] = ["match": .string(rule.pattern)]
                switch rule.action {
                case .ignore: fields["action"] = .string("ignore")
                case .frozen: fields["action"] = .string("frozen")
                case .thresholds(let own):
                    fields["action"] = .string("thresholds")
                    fields["warn"] = limits(own.warn)
                    fields["fail"] = limits(own.fail)
                }
                if let allowNew = rule.allowNew { fields["allowNew"] = .bool(allowNew) }
                if let allowRemoved = rule.allowRemoved { fields["allowRemoved"] = .bool(allowRemoved) }
                return .object(fields)
            }),
        ]
        // Only when given: a report without rename rules keeps its shape.
        if !policy.renames.isEmpty {
            fields["rename"] = .array(policy.renames.map { rule in
                .object(["side": .string(rule.side.rawValue), "match": .string(rule.pattern), "replace": .string(rule.replacement)])
            })
        }
        return .object(fields)
    }

    /// The metric fields shared by layers and weights; null where undefined.
    static func metrics(_ sums: DriftSums?, into fields: inout [String: JSONValue]) {
        let m = sums?.metrics
        // Undefined figures (nothing finite in both files) are null, never 0; the bit comparison
        // is defined whenever values were compared.
        for metric in Metric.all { fields[metric.key] = .optional(sums.flatMap(metric.value)) }
        fields["relativeTo"] = .optional(m?.relativeTo.rawValue)
        fields["frozen"] = .optional(sums?.frozen)
        fields["count"] = sums.map { .int($0.count) } ?? .null
        fields["finiteCount"] = sums.map { .int($0.finiteCount) } ?? .null
        fields["baseNanCount"] = sums.map { .int($0.baseNaN) } ?? .null
        fields["baseInfCount"] = sums.map { .int($0.baseInf) } ?? .null
    }

    static func layer(_ layer: LayerResult) -> JSONValue {
        var fields: [String: JSONValue] = [
            "name": .string(layer.name),
            "baseName": .optional(layer.baseName),
            "tunedName": .optional(layer.tunedName),
            "className": .optional(layer.className),
            "matchedBy": .optional(layer.matchedBy?.rawValue),
            "status": .string(layer.status.rawValue),
            "failsGate": .bool(layer.failsGate),
            "reasons": .array(layer.reasons.map { .string(Sentences.finding($0)) }),
            "baseNanCount": .int(layer.sums?.baseNaN ?? 0),
            "baseInfCount": .int(layer.sums?.baseInf ?? 0),
            "parameters": .int(layer.parameterCount),
            "nanCount": .int(layer.nanInTuned),
            "infCount": .int(layer.infInTuned),
        ]
        metrics(layer.sums, into: &fields)
        fields["weights"] = .array(layer.weights.map { weight in
            var w: [String: JSONValue] = [
                "name": .string(weight.name),
                "status": .string(weight.status.rawValue),
                "basePath": .optional(weight.base?.path),
                "tunedPath": .optional(weight.tuned?.path),
                "shape": .shape((weight.tuned ?? weight.base)?.shape ?? []),
                "baseShape": weight.base.map { .shape($0.shape) } ?? .null,
                "tunedShape": weight.tuned.map { .shape($0.shape) } ?? .null,
                "baseDtype": .optional(weight.base?.dtype.rawValue),
                "tunedDtype": .optional(weight.tuned?.dtype.rawValue),
                "nanCount": .int((weight.sums?.tunedNaN ?? 0) + (weight.tunedStats?.nanCount ?? 0)),
                "infCount": .int((weight.sums?.tunedInf ?? 0) + (weight.tunedStats?.infCount ?? 0)),
                "reasons": .array(weight.reasons.map { .string(Sentences.finding($0)) }),
            ]
            metrics(weight.sums, into: &w)
            return .object(w)
        })
        return .object(fields)
    }

    static func summary(_ report: DriftReport) -> JSONValue {
        var counts: [String: JSONValue] = [:]
        for status in Status.allCases { counts[status.rawValue] = .int(report.summary.counts[status] ?? 0) }
        return .object([
            "verdict": .string(report.summary.passed ? "pass" : "fail"),
            "headline": .string(CompareText.summaryLine(report)),
            "counts": .object(counts),
            "worstLayer": .optional(report.summary.worstLayer),
            "failures": .array(report.summary.failures.map { .string(Sentences.gateReason($0)) }),
            "gate": .array(report.summary.failures.map(gateReason)),
            "forgettingRisk": .string(report.forgetting.risk.rawValue),
        ])
    }

    /// A gate reason as data: `kind` (layer, coverage, forgettingRisk), its figures, and the sentence.
    static func gateReason(_ reason: GateReason) -> JSONValue {
        var fields: [String: JSONValue] = ["kind": .string(reason.kind), "message": .string(Sentences.gateReason(reason))]
        switch reason {
        case .layer(let name, let status, let findings):
            fields["layer"] = .string(name)
            fields["status"] = .string(status.rawValue)
            fields["findings"] = .array(findings.map { .string(Sentences.finding($0)) })
        case .coverage(let coverage, let minimum):
            fields["coverage"] = .optional(coverage.fraction)
            fields["minimum"] = .number(minimum)
        case .forgettingRisk(let risk, let level):
            fields["risk"] = .string(risk.rawValue)
            fields["failsFrom"] = .string(level.rawValue)
        case .reference(let layer, let ratio, let tuned, let approved, let maxRatio):
            fields["layer"] = .optional(layer)
            fields["ratio"] = .optional(ratio)
            fields["relativeChange"] = .number(tuned)
            fields["approvedRelativeChange"] = .number(approved)
            fields["maxRatio"] = .number(maxRatio)
        }
        return .object(fields)
    }

    static func coverage(_ coverage: Coverage, minimum: Double) -> JSONValue {
        .object([
            "fraction": .optional(coverage.fraction),
            "comparedParameters": .int(coverage.comparedParameters),
            "baseParameters": .int(coverage.baseParameters),
            "comparedLayers": .int(coverage.comparedLayers),
            "baseLayers": .int(coverage.baseLayers),
            "minimum": .number(minimum),
        ])
    }
}
