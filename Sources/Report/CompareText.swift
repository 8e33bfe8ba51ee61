public import Drift
import Checkpoint
import Crypto
import Foundation

/// The human-facing renderers of a comparison: terminal table, Markdown, JUnit XML and GitHub
/// workflow annotations.
public enum CompareText {
    // MARK: terminal

    /// Which layers a table or Markdown report lists in full.
    public enum RowSelection: Sendable, Equatable {
        /// Every layer up to `foldAbove` layers; past that the problems and the 10 layers that moved
        /// most, with the rest folded into one line.
        case auto
        case all
        /// Layers that fail or warn, hold NaN/Inf, or fail the gate otherwise.
        case problems
        /// The N layers that matter most (worst status, then largest relative change).
        case top(Int)

        public static let foldAbove = 50
    }

    /// Layers a user must look at: failing or warning, non-finite, or failing the gate.
    public static func isProblem(_ layer: LayerResult) -> Bool {
        layer.failsGate || layer.status == .fail || layer.status == .warn || layer.nonFiniteInTuned > 0 || layer.nonFiniteInBase > 0
    }

    /// Indices of the layers to list: model order, except that a folded big model lists its problems first.
    public static func selectedRows(_ report: DriftReport, _ selection: RowSelection) -> [Int] {
        let layers = report.layers
        func rank(_ index: Int) -> (Int, Double) {
            let layer = layers[index]
            let severity = layer.failsGate || layer.status == .fail ? 3 : layer.status == .warn ? 2 : isProblem(layer) ? 2 : 1
            return (severity, layer.metrics?.relativeChange ?? (layer.sums != nil ? .infinity : -1))
        }
        switch selection {
        case .all: return Array(layers.indices)
        case .problems: return layers.indices.filter { isProblem(layers[$0]) }
        case .top(let n): return layers.indices.sorted { rank($0) > rank($1) }.prefix(max(0, n)).sorted()
        case .auto:
            guard layers.count > RowSelection.foldAbove else { return Array(layers.indices) }
            // Problems first (in model order), then the 10 other layers that moved most.
            let problems = layers.indices.filter { isProblem(layers[$0]) }
            let others = layers.indices.filter { !isProblem(layers[$0]) }.sorted { rank($0) > rank($1) }.prefix(10)
            return problems + others.sorted()
        }
    }

    /// A table in model order with a bar per layer; ANSI colours only when `color` is true
    /// (stdout is a terminal and NO_COLOR is not set). `width` (the terminal's) folds columns away,
    /// least useful first, and shortens long layer names in the middle until each line fits.
    public static func table(_ report: DriftReport, color: Bool, width: Int? = nil, rows selection: RowSelection = .auto) -> String {
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
        let figures = Metric.columns(in: .table)
        var columns: [(String, TextTable.Alignment)] = [("layer", .left), ("class", .left), ("match", .left), ("status", .left)]
            + figures.map { ($0.columns[.table]!, .right) } + [("NaN/Inf", .right), ("drift", .left)]
        let scale = report.policy.thresholds.fail.relativeChange * 2
        let shown = selectedRows(report, selection)
        var rows: [[String]] = []
        var statuses: [Status] = []
        for index in shown {
            let layer = report.layers[index]
            // Nothing finite to compare (all NaN): no figures rather than zeros.
            let m = layer.metrics
            let cells = figures.map { metric in
                cell(metric, layer.sums) + (metric == .relativeChange && m?.relativeTo == .rms ? "*" : "")
            }
            rows.append([layer.name, layer.className ?? "?", layer.matchedBy?.rawValue ?? "—", layer.status.rawValue] + cells
                         + [layer.nonFiniteInTuned > 0 ? String(layer.nonFiniteInTuned) : "",
                         m.map { bar($0.relativeChange, scale: scale) } ?? (layer.sums != nil ? "NaN" : "")])
            statuses.append(layer.status)
        }
        if let width {
            // Fold columns away, least useful first, then shorten names, until the table fits.
            for drop in ["drift", "changed", "match", "max|Δ|", "class"] {
                guard TextTable.width(columns, rows) > width, let at = columns.firstIndex(where: { $0.0 == drop }) else { break }
                columns.remove(at: at)
                rows = rows.map { var row = $0; row.remove(at: at); return row }
            }
            let excess = TextTable.width(columns, rows) - width
            if excess > 0 {
                let longest = rows.map { $0[0].count }.max() ?? 0
                let keep = max(12, longest - excess)
                rows = rows.map { var row = $0; row[0] = shortened(row[0], to: keep); return row }
            }
        }
        var table = TextTable(columns)
        for row in rows { table.add(row) }
        let lines = table.render().split(separator: "\n", omittingEmptySubsequences: false)
        out += lines[0] + "\n"
        for (index, line) in lines.dropFirst().enumerated() where index < statuses.count {
            out += paint(String(line), statuses[index]) + "\n"
        }
        if shown.count < report.layers.count {
            out += "… \(report.layers.count - shown.count) more layers within thresholds not listed (--all lists every layer, "
                + "--only problems and --top N choose)\n"
        }
        if report.layers.contains(where: { $0.metrics?.relativeTo == .rms }) {
            out += "* base ≈ 0: RMS of the change instead of the relative change\n"
        }
        for note in report.notes { out += "note: \(safe(Sentences.note(note)))\n" }
        for warning in report.warnings { out += paint("warning: \(safe(Sentences.warning(warning)))", .warn) + "\n" }
        for diagnosis in [report.baseDiagnosis, report.diagnosis].compactMap({ $0 }) {
            out += paint(safe(Sentences.diagnosis(diagnosis)), .fail) + "\n"
        }
        out += "coverage: \(Sentences.coverage(report.summary.coverage))\n"
        out += paint(safe(riskLine(report.forgetting)), riskStatus(report.forgetting.risk)) + "\n"
        if let reference = report.reference { out += safe(Sentences.reference(reference)) + "\n" }
        out += "\n" + paint(safe(summaryLine(report)), report.summary.passed ? .ok : .fail) + "\n"
        let failures = report.summary.failures
        for failure in failures.prefix(20) { out += "  \(safe(Sentences.gateReason(failure)))\n" }
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

    /// `encoder/layer_11/attention/…/kernel` → `encoder/la…/kernel`, keeping both ends.
    static func shortened(_ text: String, to limit: Int) -> String {
        guard text.count > limit, limit > 3 else { return text }
        let head = (limit - 1) / 2, tail = limit - 1 - head
        return String(text.prefix(head)) + "…" + String(text.suffix(tail))
    }

    /// A figure's table cell: `NaN` where it is undefined for compared values, `—` where nothing
    /// was compared.
    static func cell(_ metric: Metric, _ sums: DriftSums?) -> String {
        guard let sums else { return "—" }
        return metric.value(sums).map { Sentences.figure(metric, $0) } ?? "NaN"
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

    /// Markdown stays well under GitHub's 65,536-character limit for a comment or step summary.
    public static let markdownBudget = 50_000

    public static func markdown(_ report: DriftReport) -> String {
        func cell(_ text: String) -> String { Sanitize.markdown(text) }
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
            out += "| \(label) | \(cell(input.path)) | \(input.format.rawValue) | \(cell(input.kerasVersion ?? "—")) | "
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
        out += "\nThresholds: \(Sentences.thresholds(report.policy.thresholds)); NaN/Inf in either file fails; "
            + "at least \(percent(report.policy.minCoverage)) of the base must be compared.\n\n"
        let figures = Metric.columns(in: .markdown)
        let header = "| layer | class | status | " + figures.map { $0.columns[.markdown]! + " | " }.joined() + "NaN/Inf | notes |\n"
            + "|---|---|---|" + String(repeating: "---:|", count: figures.count) + "---:|---|\n"
        func row(_ layer: LayerResult) -> String {
            let status = layer.status == .fail || layer.failsGate ? "**\(layer.status.rawValue)**" : layer.status.rawValue
            return "| \(cell(layer.name)) | \(cell(layer.className ?? "")) | \(status) | "
                + figures.map { self.cell($0, layer.sums) + " | " }.joined()
                + "\(layer.nonFiniteInTuned + layer.nonFiniteInBase) | \(cell(Sentences.findings(layer.reasons))) |\n"
        }
        for note in report.notes { out += "\n> \(cell(Sentences.note(note)))\n" }
        // Problems in the open; every other layer folded into <details>, as many as fit a GitHub
        // comment (65,536 characters) with room to spare.
        let problems = report.layers.filter(isProblem)
        let others = report.layers.filter { !isProblem($0) }
        if problems.isEmpty {
            out += "\nNo layer fails or warns.\n"
        } else {
            out += "\n" + header
            for layer in problems.prefix(200) { out += row(layer) }
            if problems.count > 200 { out += "\n… and \(problems.count - 200) more problem layers (see the JSON or HTML report)\n" }
        }
        if !others.isEmpty {
            out += "\n<details><summary>\(others.count) layers within thresholds</summary>\n\n" + header
            var listed = 0
            for layer in others {
                let line = row(layer)
                guard out.utf8.count + line.utf8.count < markdownBudget else { break }
                out += line
                listed += 1
            }
            if listed < others.count { out += "\n… and \(others.count - listed) more (see the JSON or HTML report)\n" }
            out += "\n</details>\n"
        }
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
            var seconds = 0.0
        }
        let reasons = report.summary.failures
        var layerFailure: [String: String] = [:]
        for reason in reasons { if case .layer(let name, _, _) = reason { layerFailure[name] = Sentences.gateReason(reason) } }
        var cases: [Case] = report.layers.map { layer in
            Case(classname: "weightdrift.drift", name: layer.name,
                 failure: layerFailure[layer.name].map { _ in
                     (layer.reasons.isEmpty ? layer.status.rawValue : Sentences.findings(layer.reasons), layer.status.rawValue)
                 },
                 skipped: layer.status == .ignored ? Sentences.findings(layer.reasons) : nil, detail: layerDetail(layer),
                 seconds: layer.seconds)
        }
        let nonFinite = report.layers.filter { $0.nonFiniteInTuned + $0.nonFiniteInBase > 0 }
        let nonFiniteText = [report.baseDiagnosis, report.diagnosis].compactMap { $0 }.map { Sentences.diagnosis($0) }
        cases.append(Case(classname: "weightdrift.gate", name: "NaN/Inf",
                          failure: nonFinite.isEmpty || !report.policy.failOnNonFinite ? nil
                              : ("\(nonFinite.count) layer(s) hold NaN or Inf values", "nonFinite"),
                          detail: nonFiniteText.isEmpty ? "every value is finite" : nonFiniteText.joined(separator: " ")))
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
        let time = String(format: "%.3f", report.seconds)
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"weightdrift\" tests=\"\(cases.count)\" failures=\"\(failures)\" time=\"\(time)\">\n"
        out += "  <testsuite name=\"\(Sanitize.xml(report.tuned.path))\" tests=\"\(cases.count)\" failures=\"\(failures)\" "
            + "errors=\"0\" skipped=\"\(skipped)\" time=\"\(time)\">\n"
        out += "    <properties>\n"
        out += "      <property name=\"base\" value=\"\(Sanitize.xml(report.base.path))\"/>\n"
        out += "      <property name=\"tuned\" value=\"\(Sanitize.xml(report.tuned.path))\"/>\n"
        out += "      <property name=\"verdict\" value=\"\(report.summary.passed ? "pass" : "fail")\"/>\n"
        out += "      <property name=\"coverage\" value=\"\(report.summary.coverage.fraction.map { String($0) } ?? "")\"/>\n"
        out += "      <property name=\"forgettingRisk\" value=\"\(report.forgetting.risk.rawValue)\"/>\n"
        out += "    </properties>\n"
        for item in cases {
            out += "    <testcase classname=\"\(item.classname)\" name=\"\(Sanitize.xml(item.name))\" time=\"\(String(format: "%.3f", item.seconds))\">"
            if let failure = item.failure {
                out += "\n      <failure message=\"\(Sanitize.xml(failure.message))\" type=\"\(failure.type)\">\(Sanitize.xml(item.detail))</failure>\n    "
            } else if let skipped = item.skipped {
                out += "\n      <skipped message=\"\(Sanitize.xml(skipped))\"/>\n    "
            } else {
                out += "\n      <system-out>\(Sanitize.xml(item.detail))</system-out>\n    "
            }
            out += "</testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    static func layerDetail(_ layer: LayerResult) -> String {
        var parts = ["status \(layer.status.rawValue)"]
        if layer.metrics != nil, let sums = layer.sums {
            for metric in Metric.columns(in: .detail) {
                if let value = metric.value(sums) { parts.append("\(metric.columns[.detail]!) \(Sentences.figure(metric, value))") }
            }
        } else if layer.sums != nil {
            parts.append("relative change NaN (no value finite in both files)")
        }
        if layer.nonFiniteInTuned > 0 { parts.append("\(layer.nanInTuned) NaN, \(layer.infInTuned) Inf") }
        if layer.matchedBy == .renamed, let baseName = layer.baseName { parts.append("paired through the rename rules with the base's \(baseName)") }
        return parts.joined(separator: ", ")
    }


    // MARK: GitLab Code Quality

    /// GitLab's Code Quality report (a JSON array of issues, each with description, check_name,
    /// fingerprint, severity and location): one issue per gate reason, located at the tuned
    /// checkpoint. Fingerprints are stable across runs (SHA-256 of check, subject and file).
    public static func gitlabCodeQuality(_ report: DriftReport) -> String {
        func issue(_ check: String, _ subject: String, _ description: String, _ severity: String) -> JSONValue {
            let digest = SHA256.hash(data: Data("\(check)\u{0}\(subject)\u{0}\(report.tuned.path)".utf8))
            return .object([
                "description": .string(description),
                "check_name": .string(check),
                "fingerprint": .string(digest.map { String(format: "%02x", $0) }.joined()),
                "severity": .string(severity),
                "location": .object(["path": .string(report.tuned.path), "lines": .object(["begin": .int(1)])]),
            ])
        }
        var issues: [JSONValue] = []
        for reason in report.summary.failures {
            switch reason {
            case .layer(let name, _, _): issues.append(issue("weightdrift.layer", name, Sentences.gateReason(reason), "major"))
            case .coverage: issues.append(issue("weightdrift.coverage", "coverage", Sentences.gateReason(reason), "critical"))
            case .forgettingRisk: issues.append(issue("weightdrift.forgetting-risk", "risk", Sentences.gateReason(reason), "critical"))
            case .reference(let layer, _, _, _, _):
                issues.append(issue("weightdrift.reference", layer ?? "backbone", Sentences.gateReason(reason), "major"))
            }
        }
        let failing = Set(report.summary.failures.compactMap { if case .layer(let name, _, _) = $0 { name } else { nil } })
        for layer in report.layers where layer.status == .warn && !failing.contains(layer.name) {
            issues.append(issue("weightdrift.layer-warning", layer.name, "\(layer.name) warn: \(Sentences.findings(layer.reasons))", "minor"))
        }
        if report.summary.passed, report.forgetting.risk == .high {
            issues.append(issue("weightdrift.forgetting-risk", "risk", riskLine(report.forgetting), "major"))
        }
        return JSONWriter.write(.array(issues))
    }

    // MARK: GitHub annotations

    /// `::error` for every gate reason (the 10 worst failing layers, then coverage and risk),
    /// `::warning` for the 10 worst warnings, then the summary.
    public static func github(_ report: DriftReport) -> String {
        func escape(_ text: String, property: Bool = false) -> String { Sanitize.github(text, property: property) }
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
        // Every annotation names the tuned checkpoint (the file the change is in) and a title.
        let file = escape(report.tuned.path, property: true)
        func annotation(_ level: String, _ title: String, _ message: String) -> String {
            "::\(level) file=\(file),title=\(escape(title, property: true))::\(escape(message))\n"
        }
        for reason in layerReasons.prefix(10).map(\.1) + otherReasons {
            out += annotation("error", Sentences.gateReasonTitle(reason), Sentences.gateReason(reason))
        }
        for layer in warnings.prefix(10) {
            out += annotation("warning", "weightdrift: \(layer.name)", "\(layer.name) warn: \(Sentences.findings(layer.reasons))")
        }
        for warning in report.warnings { out += annotation("warning", "weightdrift training setup", Sentences.warning(warning)) }
        for diagnosis in [report.baseDiagnosis, report.diagnosis].compactMap({ $0 }) {
            out += annotation("error", "weightdrift NaN/Inf", Sentences.diagnosis(diagnosis))
        }
        let riskGates = otherReasons.contains { if case .forgettingRisk = $0 { true } else { false } }
        if !riskGates {
            let risk = report.forgetting.risk
            out += annotation(risk == .high ? "warning" : "notice", "weightdrift forgetting risk", riskLine(report.forgetting))
        }
        for note in report.notes { out += annotation("notice", "weightdrift note", Sentences.note(note)) }
        if layerReasons.count > 10 { out += annotation("error", "weightdrift", "\(layerReasons.count - 10) more failing layers not shown") }
        if warnings.count > 10 { out += annotation("warning", "weightdrift", "\(warnings.count - 10) more warnings not shown") }
        out += annotation(report.summary.passed ? "notice" : "error", "weightdrift verdict", summaryLine(report))
        return out
    }
}
