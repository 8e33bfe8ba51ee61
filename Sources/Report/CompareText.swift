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
        let safe = Sanitize.terminal
        var out = "base:  \(safe(inputLine(report.base)))\ntuned: \(safe(inputLine(report.tuned)))\n"
        if let setup = report.baseSetup { out += "       base training: \(safe(setup.summary))\n" }
        if let setup = report.tunedSetup { out += "       tuned training: \(safe(setup.summary))\n" }
        out += "\n"
        var table = TextTable([("layer", .left), ("class", .left), ("match", .left), ("status", .left),
                               ("rel.change", .right), ("cosine", .right), ("max|Δ|", .right),
                               ("changed", .right), ("NaN/Inf", .right), ("drift", .left)])
        let scale = report.policy.thresholds.fail.relativeChange * 2
        var statuses: [Status] = []
        for layer in report.layers {
            // Nothing finite to compare (all NaN): no figures rather than zeros.
            let m = layer.sums?.finiteCount == 0 ? nil : layer.metrics
            let relative = m.map { format($0.relativeChange) + ($0.relativeTo == .rms ? "*" : "") } ?? "—"
            table.add([layer.name, layer.className ?? "?", layer.matchedBy?.rawValue ?? "—", layer.status.rawValue,
                       relative, m?.cosine.map(cosineText) ?? "—", m.map { format($0.maxAbsChange) } ?? "—",
                       m.map { percent($0.changedFraction) } ?? "—",
                       layer.nonFiniteInTuned > 0 ? String(layer.nonFiniteInTuned) : "",
                       m.map { bar($0.relativeChange, scale: scale) } ?? ""])
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
        for note in report.notes { out += "note: \(safe(note))\n" }
        for warning in report.warnings { out += paint("warning: \(safe(warning))", .warn) + "\n" }
        if let diagnosis = report.diagnosis { out += paint(safe(diagnosis), .fail) + "\n" }
        out += paint(safe(riskLine(report.forgetting)), riskStatus(report.forgetting.risk)) + "\n"
        out += "\n" + paint(safe(summaryLine(report)), report.summary.passed ? .ok : .fail) + "\n"
        for failure in report.summary.failures.prefix(20) { out += "  \(safe(failure))\n" }
        if report.summary.failures.count > 20 { out += "  … and \(report.summary.failures.count - 20) more\n" }
        return out
    }

    /// "forgetting risk: medium (0.055): backbone drift 0.055 over 5 layers; …"
    public static func riskLine(_ f: ForgettingAssessment) -> String {
        "forgetting risk: \(f.risk.rawValue)\(f.score.map { " (\(format($0)))" } ?? ""): \(f.explanation)"
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

    /// "FAIL: 2 fail, 1 warn, 5 ok · worst: dense (…)"
    public static func summaryLine(_ report: DriftReport) -> String {
        let counts = Status.allCases.compactMap { status -> String? in
            guard let n = report.summary.counts[status], n > 0 else { return nil }
            return "\(n) \(status.rawValue)"
        }.joined(separator: ", ")
        var line = "\(report.summary.passed ? "PASS" : "FAIL"): \(counts.isEmpty ? "no layers" : counts)"
        if let worst = report.summary.worstLayer, let layer = report.layers.first(where: { $0.name == worst }) {
            line += " · worst: \(worst)"
            if let m = layer.metrics { line += " (relative change \(format(m.relativeChange)))" }
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
        func cell(_ text: String) -> String { Sanitize.markdown(text) }
        let icon = report.summary.passed ? "✅" : "❌"
        var out = "## \(icon) WeightDrift: \(report.summary.passed ? "pass" : "fail")\n\n"
        out += "\(cell(summaryLine(report)))\n\n"
        out += "| | path | format | Keras | optimizer step |\n|---|---|---|---|---|\n"
        for (label, input) in [("base", report.base), ("tuned", report.tuned)] {
            out += "| \(label) | \(cell(input.path)) | \(input.format.rawValue) | \(cell(input.kerasVersion ?? "—")) | "
                + "\(input.optimizer?.iterations.map(String.init) ?? "—") |\n"
        }
        for (label, setup) in [("base", report.baseSetup), ("tuned", report.tunedSetup)] {
            if let setup { out += "\n- \(label) training: \(cell(setup.summary))" }
        }
        for warning in report.warnings { out += "\n- ⚠️ \(cell(warning))" }
        if let diagnosis = report.diagnosis { out += "\n- ❌ \(cell(diagnosis))" }
        out += "\n- \(cell(riskLine(report.forgetting)))"
        out += "\n"
        let t = report.policy.thresholds
        out += "\nThresholds: warn when relative change > \(format(t.warn.relativeChange)) or cosine < \(format(t.warn.cosine)); "
            + "fail when > \(format(t.fail.relativeChange)) or < \(format(t.fail.cosine)); NaN/Inf in the tuned file fails.\n\n"
        out += "| layer | class | status | relative change | cosine | max abs change | changed | NaN/Inf | notes |\n"
        out += "|---|---|---|---:|---:|---:|---:|---:|---|\n"
        for layer in report.layers {
            let m = layer.metrics
            let status = layer.status == .fail || layer.failsGate ? "**\(layer.status.rawValue)**" : layer.status.rawValue
            out += "| \(cell(layer.name)) | \(cell(layer.className ?? "")) | \(status) | "
                + "\(m.map { format($0.relativeChange) } ?? "—") | \(m?.cosine.map(cosineText) ?? "—") | "
                + "\(m.map { format($0.maxAbsChange) } ?? "—") | \(m.map { percent($0.changedFraction) } ?? "—") | "
                + "\(layer.nonFiniteInTuned) | \(cell(layer.reasons.joined(separator: "; "))) |\n"
        }
        for note in report.notes { out += "\n> \(cell(note))\n" }
        return out
    }

    // MARK: JUnit XML

    /// One testcase per layer; failing layers carry a `<failure>`, ignored ones `<skipped>`.
    public static func junit(_ report: DriftReport) -> String {
        let failing = report.layers.filter { fails($0, report) }
        let skipped = report.layers.filter { $0.status == .ignored }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"weightdrift\" tests=\"\(report.layers.count)\" failures=\"\(failing.count)\">\n"
        out += "  <testsuite name=\"\(xml(report.tuned.path))\" tests=\"\(report.layers.count)\" failures=\"\(failing.count)\" "
            + "errors=\"0\" skipped=\"\(skipped.count)\">\n"
        out += "    <properties>\n"
        out += "      <property name=\"base\" value=\"\(xml(report.base.path))\"/>\n"
        out += "      <property name=\"tuned\" value=\"\(xml(report.tuned.path))\"/>\n"
        out += "      <property name=\"verdict\" value=\"\(report.summary.passed ? "pass" : "fail")\"/>\n"
        out += "      <property name=\"forgettingRisk\" value=\"\(report.forgetting.risk.rawValue)\"/>\n"
        out += "    </properties>\n"
        for layer in report.layers {
            out += "    <testcase classname=\"weightdrift.drift\" name=\"\(xml(layer.name))\">"
            let detail = layerDetail(layer)
            if fails(layer, report) {
                let message = layer.reasons.isEmpty ? layer.status.rawValue : layer.reasons.joined(separator: "; ")
                out += "\n      <failure message=\"\(xml(message))\" type=\"\(layer.status.rawValue)\">\(xml(detail))</failure>\n    "
            } else if layer.status == .ignored {
                out += "\n      <skipped message=\"\(xml(layer.reasons.joined(separator: "; ")))\"/>\n    "
            } else {
                out += "\n      <system-out>\(xml(detail))</system-out>\n    "
            }
            out += "</testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    static func fails(_ layer: LayerResult, _ report: DriftReport) -> Bool {
        layer.failsGate || (report.policy.failOnWarn && layer.status == .warn)
    }

    static func layerDetail(_ layer: LayerResult) -> String {
        var parts = ["status \(layer.status.rawValue)"]
        if let m = layer.metrics {
            parts.append("relative change \(format(m.relativeChange))")
            if let cosine = m.cosine { parts.append("cosine \(cosineText(cosine))") }
            parts.append("max abs change \(format(m.maxAbsChange))")
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

    /// `::error` for the 10 worst failing layers, `::warning` for the 10 worst warnings, then the summary.
    public static func github(_ report: DriftReport) -> String {
        func escape(_ text: String, property: Bool = false) -> String { Sanitize.github(text, property: property) }
        func worstFirst(_ a: LayerResult, _ b: LayerResult) -> Bool {
            (a.metrics?.relativeChange ?? .infinity) > (b.metrics?.relativeChange ?? .infinity)
        }
        var out = ""
        let errors = report.layers.filter { fails($0, report) }.sorted(by: worstFirst)
        let warnings = report.layers.filter { $0.status == .warn && !fails($0, report) }.sorted(by: worstFirst)
        for layer in errors.prefix(10) {
            out += "::error title=\(escape("weightdrift: \(layer.name)", property: true))::"
                + escape("\(layer.name) \(layer.status.rawValue): \(layer.reasons.joined(separator: "; "))") + "\n"
        }
        for layer in warnings.prefix(10) {
            out += "::warning title=\(escape("weightdrift: \(layer.name)", property: true))::"
                + escape("\(layer.name) warn: \(layer.reasons.joined(separator: "; "))") + "\n"
        }
        for warning in report.warnings { out += "::warning title=weightdrift training setup::\(escape(warning))\n" }
        if let diagnosis = report.diagnosis { out += "::error title=weightdrift NaN/Inf::\(escape(diagnosis))\n" }
        let risk = report.forgetting.risk
        out += (risk == .high ? "::warning" : "::notice") + " title=weightdrift forgetting risk::\(escape(riskLine(report.forgetting)))\n"
        if errors.count > 10 { out += "::error::\(errors.count - 10) more failing layers not shown\n" }
        if warnings.count > 10 { out += "::warning::\(warnings.count - 10) more warnings not shown\n" }
        out += (report.summary.passed ? "::notice::" : "::error::") + escape(summaryLine(report)) + "\n"
        return out
    }
}
