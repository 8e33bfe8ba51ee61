public import Drift
import Checkpoint

/// Every sentence a comparison report shows, written from Drift's typed values: the table,
/// Markdown, JUnit, GitHub annotations, HTML and JSON all take their words from here, so every
/// format gives the same reasons.
public enum Sentences {
    /// A figure as its metric prints it.
    public static func figure(_ metric: Metric, _ value: Double) -> String {
        switch metric.style {
        case .number: format(value)
        case .cosine: CompareText.cosineText(value)
        case .percent: percent(value)
        }
    }

    /// A limit as its metric prints it (a cosine limit as it was given).
    public static func limit(_ metric: Metric, _ value: Double) -> String {
        metric.style == .percent ? percent(value) : format(value)
    }

    /// "warn when relative change > 0.05 or cosine < 0.999; fail when > 0.2 or < 0.98": every limit
    /// set, the metrics' names given once where both levels limit the same metrics.
    public static func thresholds(_ thresholds: Thresholds) -> String {
        func limits(_ limits: Limits, named: Bool) -> String {
            Metric.gateable.compactMap { metric in
                limits[metric].map { (named ? "\(metric.label) " : "") + "\(metric.relation) \(limit(metric, $0))" }
            }.joined(separator: " or ")
        }
        let sameMetrics = Metric.gateable.filter { thresholds.warn[$0] != nil } == Metric.gateable.filter { thresholds.fail[$0] != nil }
        return "warn when \(limits(thresholds.warn, named: true)); fail when \(limits(thresholds.fail, named: !sameMetrics))"
    }

    public static func finding(_ finding: Finding) -> String {
        switch finding {
        case .threshold(let metric, let value, let limit, _):
            return "\(metric.label) \(figure(metric, value)) \(metric.relation) \(self.limit(metric, limit))"
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
        case .reference(let layer, let ratio, let tuned, let approved, let maxRatio):
            let what = layer.map { "\($0): moved" } ?? "the backbone moved"
            return "\(what) \(times(ratio)) as far as the approved reference run (relative change \(format(tuned)) against "
                + "\(format(approved))), above the maximum of \(times(maxRatio))"
        }
    }

    /// "1.83×", "∞×" (the reference left it untouched).
    public static func times(_ ratio: Double) -> String {
        ratio.isInfinite ? "∞× (the approved run left it bit-identical)" : "\(format(ratio))×"
    }

    /// How the run compares with the approved reference run, in one line.
    public static func reference(_ r: ReferenceComparison) -> String {
        var text = "reference \(r.path): "
        if let overall = r.overallRatio, let a = r.tunedScore, let b = r.approvedScore {
            text += "backbone drift \(format(a)) against the approved run's \(format(b)), \(times(overall))"
        } else {
            text += "no backbone ratio (a score is undefined in one of the runs)"
        }
        if let furthest = r.layers.max(by: { $0.ratio < $1.ratio }) {
            text += "; furthest layer \(furthest.name) \(times(furthest.ratio))"
        }
        let over = r.layers.filter { $0.ratio > r.maxRatio && $0.tuned >= ReferenceComparison.minimumChange }.count
        return text + "; \(over) of \(r.layers.count) layers above the maximum of \(times(r.maxRatio))"
    }

    /// A short title for a gate reason (annotation titles, JUnit test names).
    public static func gateReasonTitle(_ reason: GateReason) -> String {
        switch reason {
        case .layer(let name, _, _): "weightdrift: \(name)"
        case .coverage: "weightdrift: coverage"
        case .forgettingRisk: "weightdrift: forgetting risk"
        case .reference(let layer, _, _, _, _): "weightdrift: reference" + (layer.map { " \($0)" } ?? "")
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
        case .renamedPairs(let count):
            return "\(count) layer\(count == 1 ? "" : "s") paired through the rename rules (match renamed)"
        case .renamedWithoutPartner(let side, let count, let from, let to):
            let other: Side = side == .base ? .tuned : .base
            return "rename rules gave \(count) layer\(count == 1 ? "" : "s") of the \(side.rawValue) file a name the \(other.rawValue) file "
                + "does not have (first: '\(from)' → '\(to)'); \(count == 1 ? "it was" : "they were") paired by the other rules"
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
        var text: String
        switch f.basis {
        case .nonFinite(let layers):
            text = "\(layers) backbone layer(s) hold NaN or Inf: the pretrained features are gone"
        case .drift(let n):
            text = "backbone drift \(f.score.map(format) ?? "—") (mean of \(n) layers' relative changes; size-weighted "
                + "\(f.backboneRelativeChange.map(format) ?? "—"))"
            if f.runningStatistics > 0 {
                text += " (\(f.runningStatistics) running statistics left out)"
            }
            if let early = f.earlyRelativeChange, let late = f.lateRelativeChange, n >= 3 {
                text += "; early layers \(format(early)), late layers \(format(late))"
            }
        case .noBackbone:
            text = "no backbone layers to judge (no layer is in both files with the same shapes)"
        }
        text += "; " + heads(f.heads)
        return text + "; " + cutPoints(f.cutPoints)
    }

    /// Which layers were taken as the head, and why; always said.
    public static func heads(_ heads: [ForgettingAssessment.HeadLayer]) -> String {
        guard !heads.isEmpty else { return "head: none left out (no new, reshaped or declared layer, none detected)" }
        let parts = heads.prefix(6).map { head -> String in
            switch head.reason {
            case .declared(let pattern): return "\(head.name) (declared: \(pattern))"
            case .new: return "\(head.name) (new)"
            case .removed: return "\(head.name) (removed)"
            case .reshaped: return "\(head.name) (reshaped)"
            case .detected(let cosine, let change, let rest):
                let ratio = rest > 0 ? "\(format(change / rest))× the rest's drift" : "the rest unchanged"
                return "\(head.name) (detected: relative change \(format(change)), \(ratio), cosine \(format(cosine)) with its base; "
                    + "re-initialised for the new task; declare it with --head, or name the real head, to change this)"
            }
        }
        return "head: " + parts.joined(separator: ", ") + (heads.count > 6 ? " and \(heads.count - 6) more" : "")
    }

    /// Where the levels come from.
    public static func cutPoints(_ cuts: ForgettingAssessment.CutPoints) -> String {
        switch cuts.source {
        case .uncalibratedDefaults:
            return "levels are uncalibrated defaults (medium from \(format(cuts.medium)), high from \(format(cuts.high))): they order "
                + "runs of one model but their scale differs by architecture; fit them to yours with `weightdrift calibrate`"
        case .policy:
            return "levels calibrated by the policy (medium from \(format(cuts.medium)), high from \(format(cuts.high)))"
        }
    }

    public static let forgettingRule = "score = mean over backbone layers of ‖ΔWᵢ‖/‖W₀ᵢ‖, trainable weights only (BatchNorm "
        + "running statistics left out); the backbone is every layer in both files with the same shapes, a shared head included, "
        + "minus declared, new, reshaped and detected re-initialised heads; low below the medium cut point, high from the high one "
        + "(uncalibrated defaults \(ForgettingAssessment.mediumFrom) and \(ForgettingAssessment.highFrom), or the policy's "
        + "`forgetting:` from `weightdrift calibrate`); NaN or Inf in the backbone is high"

    /// `weightdrift calibrate`: what it saw and how well the fit separates the runs.
    public static func calibration(_ c: ForgettingCalibration) -> [String] {
        let shape = c.shape
        var lines = ["\(c.runs.count) labelled runs: \(c.keptTask) kept the original task (< 5 points lost), \(c.forgot) lost 5 points "
                     + "or more (runs with a positive score)"]
        lines.append("medium cut: the cautious \(Int((shape.quantile * 100).rounded()))% point of where forgetting starts, given these runs "
                     + (shape.positionSD != nil ? "(their bands and how many points each lost) " : "")
                     + "and the scales of other models (prior median \(format(shape.priorMedian))); high cut: the "
                     + "\(Int((shape.highQuantile * 100).rounded()))% point of where more than 20 points are lost, "
                     + "\(format(c.cutPoints.high / c.cutPoints.medium))× the medium cut (other models: about \(format(shape.ratioMedian))×)")
        let kept = c.furthestKept.map(format) ?? "—", lost = c.leastForgot.map(format) ?? "—"
        switch c.support {
        case .bracketed:
            if let k = c.furthestKept, let l = c.leastForgot, k >= l {
                lines.append("the runs overlap: one that kept the task moved further (\(kept)) than one that forgot (\(lost)); "
                             + "the cut weighs them against each other and the prior")
            } else {
                lines.append("the runs bracket the medium cut: the task kept up to score \(kept), 5 points or more lost from \(lost)")
            }
        case .forgotOnly:
            lines.append("rests on shared assumptions: every run lost 5 points or more (least-moved \(lost)), so how far below that "
                         + "forgetting starts comes from the prior; label a run that kept the task (e.g. a smaller learning rate)")
        case .keptOnly:
            lines.append("rests on shared assumptions: no run lost 5 points or more, so the cut rests on the runs that kept the task "
                         + "(up to \(kept)) and the prior; label a run that forgot (e.g. a larger learning rate)")
        }
        switch c.highSupport {
        case .bracketed:
            lines.append("the runs bracket the high cut (runs that lost at most 20 points and runs that lost more): they place it")
        case .ratioPrior:
            let scored = c.runs.filter { $0.score.map { $0.isFinite && $0 > 0 } ?? false }
            let allHigh = scored.allSatisfy { $0.forgetting > ForgettingCalibration.highLoss }
            lines.append("the high cut rests on shared assumptions: " + (allHigh ? "every run" : "no run")
                         + " with a positive score lost more than 20 points, so how far above the medium cut it sits comes from "
                         + "other models' ratios; label a run that lost "
                         + (allHigh ? "less" : "more than 20 points"))
        }
        lines.append("the fitted cut points put \(c.rightBand) of \(c.runs.count) runs in the band their measured loss warrants "
                     + "(low < 5 points, medium 5–20, high > 20); \(c.highCalledLow) that lost more than 20 points are called low")
        if let rho = c.spearman {
            lines.append("Spearman's rho between score and forgetting over these runs: \(format(rho))"
                         + (rho < 0.8 ? " — the score orders these runs poorly; the cut points are weak" : ""))
        } else {
            lines.append("too few runs for a rank correlation")
        }
        if c.runs.count < 5 {
            lines.append("with \(c.runs.count) labelled runs the cut points rest on little (the README says how well three runs did on "
                         + "other families); label more runs, near where forgetting starts, to sharpen them")
        }
        return lines
    }

    public static func calibrationFailure(_ failure: ForgettingCalibration.Failure) -> String {
        switch failure {
        case .noUsableScore(let runs):
            return "cannot fit cut points: no labelled run (of \(runs)) has a positive, finite forgetting score (nothing moved, "
                + "no backbone in common, or NaN/Inf weights); label fine-tunes that changed the model and stayed finite"
        case .noForgettingSeen(let runs, let furthest, let prior):
            return "cannot fit cut points: all \(runs) runs kept the original task (< 5 points lost) and moved at most "
                + "\(format(furthest)), less than where forgetting starts in other models (about \(format(prior))), so nothing "
                + "says where it starts in yours; label a run that lost 5 points or more (e.g. a larger learning rate)"
        }
    }

    /// The headline: the verdict, and the forgetting risk beside a pass when it is high.
    public static func verdict(_ report: DriftReport) -> String {
        if report.summary.passed {
            return report.forgetting.risk == .high ? "PASS, but forgetting risk high" : "PASS"
        }
        return "FAIL"
    }
}
