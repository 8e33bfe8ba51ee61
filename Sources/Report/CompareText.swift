public import Drift
import Checkpoint
import Foundation

/// The human-facing renderers of a comparison: terminal table, Markdown, JUnit XML and GitHub
/// workflow annotations.
public enum CompareText {
    // MARK: terminal

    /// A table in model order with a bar per layer; ANSI colours only when `color` is true
    /// (stdout is a terminal).
    public static func table(_ report: DriftReport, color: Bool) -> String {
        func paint(_ text: String, _ status: Status) -> String {
            guard color else { return text }
            let code = switch status {
            case .fail: "31"
            case .warn: "33"
            case .ok: "32"
            case .frozen: "36"
            default: "35"
            }
            return "\u{1B}[\(code)m\(text)\u{1B}[0m"
        }
        var out = "base:  \(inputLine(report.base))\ntuned: \(inputLine(report.tuned))\n"
        if let setup = report.baseSetup { out += "       base training: \(setup.summary)\n" }
        if let setup = report.tunedSetup { out += "       tuned training: \(setup.summary)\n" }
        out += "\n"
        var table = TextTable([("layer", .left), ("class", .left), ("match", .left), ("status", .left),
                               ("rel.change", .right), ("cosine", .right), ("max|Δ|", .right),
                               ("changed", .right), ("NaN/Inf", .right), ("drift", .left)])
        let scale = report.policy.thresholds.fail.relativeChange * 2
        var statuses: [Status] = []
        for layer in report.layers {
            // Nothing finite to compare (all NaN): no figures rather than zeros.
            let m = layer.metrics
            let relative = m.map { format($0.relativeChange) + ($0.relativeTo == .rms ? "*" : "") } ?? "—"
            table.add([layer.name, layer.className ?? "?", layer.matchedBy?.rawValue ?? "—", layer.status.rawValue,
                       relative, m?.cosine.map(cosineText) ?? "—", m.map { format($0.maxAbsChange) } ?? "—",
                       m.map { percent($0.changedFraction) } ?? "—",
                       layer.nonFiniteInTuned > 0 ? String(layer.nonFiniteInTuned) : "",
                       m.map { bar($0.relativeChange, scale: scale) } ?? (layer.sums != nil ? "NaN" : "")])
            statuses.append(layer.status)
        }
        let lines = table.render().split(separator: "\n", omittingEmptySubsequences: false)
        out += lines[0] + "\n"
        for (index, line) in lines.dropFirst().enumerated() where index < statuses.count {
            out += paint(String(line), statuses[index]) + "\n"
        }
        if report.layers.contains(where: { $0.metrics?.relativeTo == .rms }) {
            out += "* base ≈ 0: RMS of the change instead of the relative change\n"
        }
        for note in report.notes { out += "note: \(Sentences.note(note))\n" }
        for warning in report.warnings { out += paint("warning: \(Sentences.warning(warning))", .warn) + "\n" }
        for diagnosis in [report.baseDiagnosis, report.diagnosis].compactMap({ $0 }) {
            out += paint(Sentences.diagnosis(diagnosis), .fail) + "\n"
        }
        out += "coverage: \(Sentences.coverage(report.summary.coverage))\n"
        out += paint(riskLine(report.forgetting), riskStatus(report.forgetting.risk)) + "\n"
        if let reference = report.reference { out += Sentences.reference(reference) + "\n" }
        out += "\n" + paint(summaryLine(report), report.summary.passed ? .ok : .fail) + "\n"
        let failures = report.summary.failures
        for failure in failures.prefix(20) { out += "  \(Sentences.gateReason(failure))\n" }
        if failures.count > 20 { out += "  … and \(failures.count - 20) more\n" }
        return out
    }

    /// "forgetting risk: medium (0.055): backbone drift 0.055 over 5 layers; …"
    public static func riskLine(_ f: ForgettingAssessment) -> String {
        "forgetting risk: \(f.risk.rawValue)\(f.score.map { " (\(format($0)))" } ?? ""): \(Sentences.forgettingExplanation(f))"
    }

    static func riskStatus(_ risk: ForgettingAssessment.Risk) -> Status {
        switch risk {
        case .high: .fail
        case .medium: .warn
        case .low: .ok
        case .unknown: .ignored
        }
    }

    static func inputLine(_ input: InputSummary) -> String {
        var parts = [input.format.rawValue]
        if let version = input.kerasVersion { parts.append("Keras \(version)") }
        parts.append("\(input.layerCount) layers")
        if let optimizer = input.optimizer {
            var text = optimizer.className ?? optimizer.name ?? "optimizer"
            if let iterations = optimizer.iterations { text += " at step \(iterations)" }
            parts.append(text)
        }
        return "\(input.path) (\(parts.joined(separator: ", ")))"
    }

    /// "FAIL: 2 fail, 1 warn, 5 ok · 98.0% of the base compared · worst: dense (…)"; a failure
    /// that is not a layer's (coverage, risk) is named in the line.
    public static func summaryLine(_ report: DriftReport) -> String {
        let counts = Status.allCases.compactMap { status -> String? in
            guard let n = report.summary.counts[status], n > 0 else { return nil }
            return "\(n) \(status.rawValue)"
        }.joined(separator: ", ")
        var line = "\(Sentences.verdict(report)): \(counts.isEmpty ? "no layers" : counts)"
        line += " · \(report.summary.coverage.fraction.map(percent) ?? "—") of the base compared"
        for reason in report.summary.failures {
            switch reason {
            case .layer: continue
            case .coverage(_, let minimum): line += " · coverage below \(percent(minimum))"
            case .forgettingRisk(let risk, _): line += " · forgetting risk \(risk.rawValue)"
            case .reference(let layer, let ratio, _, _, _):
                line += " · \(layer ?? "backbone") \(Sentences.times(ratio)) the reference"
            }
        }
        if let worst = report.summary.worstLayer, let layer = report.layers.first(where: { $0.name == worst }) {
            line += " · worst: \(worst)"
            if let m = layer.metrics {
                line += " (relative change \(format(m.relativeChange)))"
            } else if layer.sums != nil {
                line += " (relative change NaN)"
            }
        }
        return line
    }

    static func cosineText(_ cosine: Double) -> String {
        cosine > 0.9999 && cosine < 1 ? String(format: "%.6f", cosine) : format(cosine)
    }

    static func bar(_ value: Double, scale: Double) -> String {
        guard value.isFinite, scale > 0 else { return value.isNaN ? "?" : "" }
        let width = 20.0
        let eighths = Int((min(value / scale, 1) * width * 8).rounded())
        let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        var text = String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
        if value > scale { text += "▶" }
        return text
    }

    // MARK: Markdown

    public static func markdown(_ report: DriftReport) -> String {
        func cell(_ text: String) -> String {
            text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        let passed = report.summary.passed
        let icon = passed ? (report.forgetting.risk == .high ? "⚠️" : "✅") : "❌"
        var out = "## \(icon) WeightDrift: \(Sentences.verdict(report).lowercased())\n\n"
        out += "\(cell(summaryLine(report)))\n\n"
        if !passed {
            out += "**Why the gate failed:**\n\n"
            for reason in report.summary.failures { out += "- \(cell(Sentences.gateReason(reason)))\n" }
            out += "\n"
        }
        out += "| | path | format | Keras | optimizer step |\n|---|---|---|---|---|\n"
        for (label, input) in [("base", report.base), ("tuned", report.tuned)] {
            out += "| \(label) | `\(cell(input.path))` | \(input.format.rawValue) | \(cell(input.kerasVersion ?? "—")) | "
                + "\(input.optimizer?.iterations.map(String.init) ?? "—") |\n"
        }
        for (label, setup) in [("base", report.baseSetup), ("tuned", report.tunedSetup)] {
            if let setup { out += "\n- \(label) training: \(cell(setup.summary))" }
        }
        for warning in report.warnings { out += "\n- ⚠️ \(cell(Sentences.warning(warning)))" }
        for diagnosis in [report.baseDiagnosis, report.diagnosis].compactMap({ $0 }) {
            out += "\n- ❌ \(cell(Sentences.diagnosis(diagnosis)))"
        }
        out += "\n- coverage: \(cell(Sentences.coverage(report.summary.coverage)))"
        out += "\n- \(cell(riskLine(report.forgetting)))"
        if let reference = report.reference { out += "\n- \(cell(Sentences.reference(reference)))" }
        out += "\n"
        let t = report.policy.thresholds
        out += "\nThresholds: warn when relative change > \(format(t.warn.relativeChange)) or cosine < \(format(t.warn.cosine)); "
            + "fail when > \(format(t.fail.relativeChange)) or < \(format(t.fail.cosine)); NaN/Inf in either file fails; "
            + "at least \(percent(report.policy.minCoverage)) of the base must be compared.\n\n"
        out += "| layer | class | status | relative change | cosine | max abs change | changed | NaN/Inf | notes |\n"
        out += "|---|---|---|---:|---:|---:|---:|---:|---|\n"
        for layer in report.layers {
            let m = layer.metrics
            let none = layer.sums != nil ? "NaN" : "—"
            let status = layer.status == .fail || layer.failsGate ? "**\(layer.status.rawValue)**" : layer.status.rawValue
            out += "| \(cell(layer.name)) | \(cell(layer.className ?? "")) | \(status) | "
                + "\(m.map { format($0.relativeChange) } ?? none) | \(m?.cosine.map(cosineText) ?? none) | "
                + "\(m.map { format($0.maxAbsChange) } ?? none) | \(layer.sums.map { percent($0.changedFraction) } ?? "—") | "
                + "\(layer.nonFiniteInTuned) | \(cell(Sentences.findings(layer.reasons))) |\n"
        }
        for note in report.notes { out += "\n> \(cell(Sentences.note(note)))\n" }
        return out
    }

    // MARK: JUnit XML

    /// One testcase per layer, then one per gate rule that is not a layer's (coverage, forgetting
    /// risk, the reference run when given); a testcase fails exactly when the gate decision names it.
    public static func junit(_ report: DriftReport) -> String {
        struct Case {
            let classname: String, name: String
            var failure: (message: String, type: String)?
            var skipped: String?
            let detail: String
        }
        let reasons = report.summary.failures
        var layerFailure: [String: String] = [:]
        for reason in reasons { if case .layer(let name, _, _) = reason { layerFailure[name] = Sentences.gateReason(reason) } }
        var cases: [Case] = report.layers.map { layer in
            Case(classname: "weightdrift.drift", name: layer.name,
                 failure: layerFailure[layer.name].map { _ in
                     (layer.reasons.isEmpty ? layer.status.rawValue : Sentences.findings(layer.reasons), layer.status.rawValue)
                 },
                 skipped: layer.status == .ignored ? Sentences.findings(layer.reasons) : nil, detail: layerDetail(layer))
        }
        let coverageFailure = reasons.first { if case .coverage = $0 { true } else { false } }
        cases.append(Case(classname: "weightdrift.gate", name: "coverage",
                          failure: coverageFailure.map { (Sentences.gateReason($0), "coverage") },
                          detail: Sentences.coverage(report.summary.coverage)))
        let riskFailure = reasons.first { if case .forgettingRisk = $0 { true } else { false } }
        cases.append(Case(classname: "weightdrift.gate", name: "forgetting risk",
                          failure: riskFailure.map { (Sentences.gateReason($0), "forgettingRisk") },
                          detail: riskLine(report.forgetting)))
        if let reference = report.reference {
            let referenceFailures = reasons.filter { if case .reference = $0 { true } else { false } }
            cases.append(Case(classname: "weightdrift.gate", name: "reference",
                              failure: referenceFailures.isEmpty ? nil
                                  : (referenceFailures.map(Sentences.gateReason).joined(separator: "; "), "reference"),
                              detail: Sentences.reference(reference)))
        }
        let failures = cases.filter { $0.failure != nil }.count
        let skipped = cases.filter { $0.skipped != nil }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"weightdrift\" tests=\"\(cases.count)\" failures=\"\(failures)\">\n"
        out += "  <testsuite name=\"\(xml(report.tuned.path))\" tests=\"\(cases.count)\" failures=\"\(failures)\" "
            + "errors=\"0\" skipped=\"\(skipped)\">\n"
        out += "    <properties>\n"
        out += "      <property name=\"base\" value=\"\(xml(report.base.path))\"/>\n"
        out += "      <property name=\"tuned\" value=\"\(xml(report.tuned.path))\"/>\n"
        out += "      <property name=\"verdict\" value=\"\(report.summary.passed ? "pass" : "fail")\"/>\n"
        out += "      <property name=\"coverage\" value=\"\(report.summary.coverage.fraction.map { String($0) } ?? "")\"/>\n"
        out += "      <property name=\"forgettingRisk\" value=\"\(report.forgetting.risk.rawValue)\"/>\n"
        out += "    </properties>\n"
        for item in cases {
            out += "    <testcase classname=\"\(item.classname)\" name=\"\(xml(item.name))\">"
            if let failure = item.failure {
                out += "\n      <failure message=\"\(xml(failure.message))\" type=\"\(failure.type)\">\(xml(item.detail))</failure>\n    "
            } else if let skipped = item.skipped {
                out += "\n      <skipped message=\"\(xml(skipped))\"/>\n    "
            } else {
                out += "\n      <system-out>\(xml(item.detail))</system-out>\n    "
            }
            out += "</testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    static func layerDetail(_ layer: LayerResult) -> String {
        var parts = ["status \(layer.status.rawValue)"]
        if let m = layer.metrics {
            parts.append("relative change \(format(m.relativeChange))")
            if let cosine = m.cosine { parts.append("cosine \(cosineText(cosine))") }
            parts.append("max abs change \(format(m.maxAbsChange))")
        } else if layer.sums != nil {
            parts.append("relative change NaN (no value finite in both files)")
        }
        if layer.nonFiniteInTuned > 0 { parts.append("\(layer.nanInTuned) NaN, \(layer.infInTuned) Inf") }
        return parts.joined(separator: ", ")
    }

    static func xml(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\n": out += "&#10;"
            case let c where c.value < 0x20 && c != "\t": out += "?"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    // MARK: GitHub annotations

    /// `::error` for every gate reason (the 10 worst failing layers, then coverage and risk),
    /// `::warning` for the 10 worst warnings, then the summary.
    public static func github(_ report: DriftReport) -> String {
        func escape(_ text: String, property: Bool = false) -> String {
            var out = text.replacingOccurrences(of: "%", with: "%25")
                .replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
            if property { out = out.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C") }
            return out
        }
        func change(_ name: String) -> Double {
            report.layers.first { $0.name == name }?.metrics?.relativeChange ?? .infinity
        }
        var out = ""
        var layerReasons: [(String, GateReason)] = []
        var otherReasons: [GateReason] = []
        for reason in report.summary.failures {
            if case .layer(let name, _, _) = reason { layerReasons.append((name, reason)) } else { otherReasons.append(reason) }
        }
        layerReasons.sort { change($0.0) > change($1.0) }
        let failing = Set(layerReasons.map(\.0))
        let warnings = report.layers.filter { $0.status == .warn && !failing.contains($0.name) }
            .sorted { ($0.metrics?.relativeChange ?? .infinity) > ($1.metrics?.relativeChange ?? .infinity) }
        for reason in layerReasons.prefix(10).map(\.1) + otherReasons {
            out += "::error title=\(escape(Sentences.gateReasonTitle(reason), property: true))::\(escape(Sentences.gateReason(reason)))\n"
        }
        for layer in warnings.prefix(10) {
            out += "::warning title=\(escape("weightdrift: \(layer.name)", property: true))::"
                + escape("\(layer.name) warn: \(Sentences.findings(layer.reasons))") + "\n"
        }
        for warning in report.warnings { out += "::warning title=weightdrift training setup::\(escape(Sentences.warning(warning)))\n" }
        for diagnosis in [report.baseDiagnosis, report.diagnosis].compactMap({ $0 }) {
            out += "::error title=weightdrift NaN/Inf::\(escape(Sentences.diagnosis(diagnosis)))\n"
        }
        let riskGates = otherReasons.contains { if case .forgettingRisk = $0 { true } else { false } }
        if !riskGates {
            let risk = report.forgetting.risk
            out += (risk == .high ? "::warning" : "::notice") + " title=weightdrift forgetting risk::\(escape(riskLine(report.forgetting)))\n"
        }
        if layerReasons.count > 10 { out += "::error::\(layerReasons.count - 10) more failing layers not shown\n" }
        if warnings.count > 10 { out += "::warning::\(warnings.count - 10) more warnings not shown\n" }
        out += (report.summary.passed ? "::notice::" : "::error::") + escape(summaryLine(report)) + "\n"
        return out
    }
}
