public import Drift
import Checkpoint

/// Every sentence a comparison report shows, written from Drift's typed values: the table,
/// Markdown, JUnit, GitHub annotations, HTML and JSON all take their words from here, so every
/// format gives the same reasons.
public enum Sentences {
    public static func metricName(_ metric: LimitedMetric) -> String {
        switch metric {
        case .relativeChange: "relative change"
        case .rmsChange: "RMS change (base ≈ 0)"
        case .cosine: "cosine"
        }
    }

    public static func finding(_ finding: Finding) -> String {
        switch finding {
        case .threshold(let metric, let value, let limit, _):
            let relation = metric == .cosine ? "<" : ">"
            let text = metric == .cosine ? CompareText.cosineText(value) : format(value)
            return "\(metricName(metric)) \(text) \(relation) \(format(limit))"
        case .frozenChanged(let rule, let fraction):
            return "must be frozen (policy rule '\(rule)') but \(percent(fraction)) of its values changed"
        case .nonFinite(let side, let nan, let inf):
            return "\(nan) NaN and \(inf) Inf values in the \(side.rawValue) checkpoint"
        case .nothingFinite:
            return "no value is finite in both files, so no drift figure is defined"
        case .notAllowed(let status):
            switch status {
            case .removed: return "layer removed and the policy does not allow it"
            case .new: return "new layer and the policy does not allow it"
            default: return "shape changed and the policy does not allow new shapes"
            }
        case .ignoredByRule(let rule):
            return "ignored by policy rule '\(rule)'"
        case .weight(let name, let inner):
            return "\(name): \(self.finding(inner))"
        }
    }

    public static func findings(_ findings: [Finding]) -> String {
        findings.map(finding).joined(separator: "; ")
    }

    public static func coverage(_ coverage: Coverage) -> String {
        let share = coverage.fraction.map(percent) ?? "—"
        return "\(share) of the base's parameters compared (\(grouped(coverage.comparedParameters)) of "
            + "\(grouped(coverage.baseParameters)), \(coverage.comparedLayers) of \(coverage.baseLayers) layers)"
    }

    public static func gateReason(_ reason: GateReason) -> String {
        switch reason {
        case .layer(let name, let status, let findings):
            return "\(name): " + (findings.isEmpty ? status.rawValue : self.findings(findings))
        case .coverage(let coverage, let minimum):
            return "coverage: only \(self.coverage(coverage)), below the minimum of \(percent(minimum)); "
                + "the rest of the model was not checked (new, removed or reshaped layers, or ignored by the policy)"
        case .forgettingRisk(let risk, let level):
            return "forgetting risk \(risk.rawValue) (the policy fails from \(level.rawValue))"
        }
    }

    /// A short title for a gate reason (annotation titles, JUnit test names).
    public static func gateReasonTitle(_ reason: GateReason) -> String {
        switch reason {
        case .layer(let name, _, _): "weightdrift: \(name)"
        case .coverage: "weightdrift: coverage"
        case .forgettingRisk: "weightdrift: forgetting risk"
        }
    }

    public static func note(_ note: Note) -> String {
        switch note {
        case .layerOrderNotStored(let path):
            return "\(path): this format does not store model order; layers are listed by path"
        case .orderMatchOnPathOrder:
            return "--match order on a file without stored model order pairs layers in path order"
        case .depthOrderFrom(let path):
            return "rows and the depth profile follow the model order stored in \(path)"
        case .identicalWeights:
            return "the two checkpoints hold identical weights (every compared value is bit-identical)"
        case .structuralAlignment(let structural, let renamed, let rejected):
            var text = "exact layer names disagree with the model structure: \(structural) layers paired by class, shapes "
                + "and model order instead"
            if renamed > 0 { text += " (\(renamed) of them under other names)" }
            if rejected > 0 { text += "; \(rejected) same-name pairs would have joined layers at different depths" }
            return text
        case .counterOffset(let offset):
            let sign = offset > 0 ? "+" : ""
            return "layer counters differ by \(sign)\(offset) between the files (tuned = base \(sign)\(offset)), as between "
                + "Keras 2.0 (counts from _1) and tf.keras 2.2+ (counts from no suffix); pairs marked counter-offset"
        }
    }

    public static func warning(_ warning: SetupWarning) -> String {
        switch warning {
        case .rateNotBelowBase(let tuned, let base):
            return "the fine-tune started at learning rate \(format(tuned)), not below the base run's \(format(base)); "
                + "fine-tuning usually wants a smaller one"
        case .fromScratchRate(let optimizer, let rate):
            return "\(optimizer) at learning rate \(format(rate)) (≥ 1e-2) is a from-scratch rate; it overwrites pretrained features"
        }
    }

    /// Where NaN/Inf weights are and their usual causes. `standalone`: for one file (inspect).
    public static func diagnosis(_ d: NonFiniteDiagnosis, standalone: Bool = false) -> String {
        guard let first = d.affected.first else { return "" }
        let whose = standalone ? "" : "in the \(d.side.rawValue) checkpoint"
        var text = "non-finite weights\(whose.isEmpty ? "" : " " + whose): \(d.nan) NaN and \(d.inf) Inf in \(d.affected.count) of "
            + "\(d.layerCount) layers; first in model order: \(first.name) (\(first.nan) NaN, \(first.inf) Inf)"
        let others = d.affected.dropFirst().map(\.name)
        if !others.isEmpty {
            text += "; also \(others.prefix(8).joined(separator: ", "))\(others.count > 8 ? " and \(others.count - 8) more" : "")"
        }
        if d.side == .base && !standalone {
            return text + ". The pretrained checkpoint itself is damaged: no drift from it can be trusted."
        }
        text += ". Usual causes: a learning rate too high for the optimizer, or exploding gradients (try gradient clipping or a lower rate)"
        if let rate = d.learningRate {
            text += "; the stored learning rate is \(format(rate))\(d.optimizer.map { " (\($0))" } ?? "")"
        }
        return text + "."
    }

    public static func forgettingExplanation(_ f: ForgettingAssessment) -> String {
        switch f.basis {
        case .nonFinite(let layers):
            return "\(layers) backbone layer(s) hold NaN or Inf: the pretrained features are gone"
        case .drift(let n):
            var text = "backbone drift \(f.score.map(format) ?? "—") over \(n) layers"
            if let early = f.earlyRelativeChange, let late = f.lateRelativeChange, n >= 3 {
                text += "; early layers \(format(early)), late layers \(format(late))"
            }
            return text
        case .noBackbone:
            return "no backbone layers to judge (no layer is in both files with the same shapes)"
        }
    }

    public static let forgettingRule = "score = sqrt(Σ‖ΔWᵢ‖² / Σ‖W₀ᵢ‖²) over backbone layers (every layer in both files with the same "
        + "shapes, a shared head included); low < \(ForgettingAssessment.mediumFrom), medium < \(ForgettingAssessment.highFrom), "
        + "high ≥ \(ForgettingAssessment.highFrom); NaN or Inf in the backbone is high"

    /// The headline: the verdict, and the forgetting risk beside a pass when it is high.
    public static func verdict(_ report: DriftReport) -> String {
        if report.summary.passed {
            return report.forgetting.risk == .high ? "PASS, but forgetting risk high" : "PASS"
        }
        return "FAIL"
    }
}
