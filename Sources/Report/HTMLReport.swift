public import Drift
import Checkpoint
import Foundation

/// `compare --format html`: one self-contained page (inline CSS and SVG; no script, font or
/// network fetch) with the verdict, the inputs and their training setups, charts of relative
/// change, cosine and parameter share per layer in model order, the forgetting profile, and the
/// full table. The markup is well-formed XML, so it can be checked with any XML parser.
public enum HTMLReport {
    public static func render(_ report: DriftReport) -> String {
        let passed = report.summary.passed
        let banner = passed ? (report.forgetting.risk == .high ? "warn" : "pass") : "fail"
        var body = ""
        body += "<header class=\"\(banner)\"><h1>WeightDrift: \(escape(Sentences.verdict(report).lowercased()))</h1>"
        body += "<p>\(escape(CompareText.summaryLine(report)))</p>"
        if !passed {
            body += "<ul class=\"reasons\">" + report.summary.failures.map { "<li>\(escape(Sentences.gateReason($0)))</li>" }.joined()
                + "</ul>"
        }
        body += "</header>\n"

        body += "<section><h2>Inputs</h2><table class=\"inputs\"><tr><th></th><th>path</th><th>format</th><th>Keras</th>"
            + "<th>layers</th><th>parameters</th><th>SHA-256</th><th>training</th></tr>\n"
        for (label, input, setup) in [("base", report.base, report.baseSetup), ("tuned", report.tuned, report.tunedSetup)] {
            body += "<tr><th>\(label)</th><td><code>\(escape(input.path))</code></td><td>\(input.format.rawValue)</td>"
                + "<td>\(escape(input.kerasVersion ?? "—"))</td><td>\(input.layerCount)</td><td>\(grouped(input.parameterCount))</td>"
                + "<td><code>\(escape(input.sha256.map { String($0.prefix(16)) + "…" } ?? "—"))</code></td>"
                + "<td>\(escape(setup?.summary ?? "not recorded"))</td></tr>\n"
        }
        body += "</table>\n"
        let t = report.policy.thresholds
        body += "<p class=\"muted\">Thresholds: warn when relative change &gt; \(format(t.warn.relativeChange)) or cosine &lt; "
            + "\(format(t.warn.cosine)); fail when &gt; \(format(t.fail.relativeChange)) or &lt; \(format(t.fail.cosine)); "
            + "NaN or Inf in either file fails; at least \(percent(report.policy.minCoverage)) of the base must be compared. "
            + "Layers matched: \(report.matchMode.rawValue). Coverage: \(escape(Sentences.coverage(report.summary.coverage))).</p>\n"
        var findings: [(String, String)] = report.warnings.map { ("warn", Sentences.warning($0)) }
        for diagnosis in [report.baseDiagnosis, report.diagnosis].compactMap({ $0 }) { findings.append(("fail", Sentences.diagnosis(diagnosis))) }
        findings += report.notes.map { ("note", Sentences.note($0)) }
        if !findings.isEmpty {
            body += "<ul class=\"findings\">" + findings.map { "<li class=\"\($0.0)\">\(escape($0.1))</li>" }.joined() + "</ul>\n"
        }
        body += "</section>\n"

        let f = report.forgetting
        body += "<section><h2>Forgetting risk: <span class=\"risk \(f.risk.rawValue)\">\(f.risk.rawValue)</span>"
            + "\(f.score.map { " (\(format($0)))" } ?? "")</h2><p>\(escape(Sentences.forgettingExplanation(f))).</p>"
            + "<p class=\"muted\">\(escape(Sentences.forgettingRule)).</p>\n"
        if !f.profile.isEmpty {
            body += chart(title: "Backbone relative change by depth (input → output)",
                          bars: f.profile.map { Bar(label: $0.name, value: $0.relativeChange, color: palette(.ok)) },
                          scale: .log, lines: [(ForgettingAssessment.mediumFrom, "medium"), (ForgettingAssessment.highFrom, "high")])
        }
        if !f.headLayers.isEmpty {
            body += "<p class=\"muted\">Head and new layers, left out: \(escape(f.headLayers.joined(separator: ", "))).</p>"
        }
        body += "</section>\n"

        body += "<section><h2>Drift per layer, in model order</h2>\n"
        let compared = report.layers.filter { $0.metrics != nil }
        body += chart(title: "Relative change ‖W₁−W₀‖/‖W₀‖ (log scale)",
                      bars: report.layers.map { layer in
                          Bar(label: layer.name, value: layer.metrics?.relativeChange,
                              color: palette(layer.status))
                      },
                      scale: .log, lines: [(t.warn.relativeChange, "warn"), (t.fail.relativeChange, "fail")])
        let lowest = min(t.fail.cosine, compared.compactMap { $0.metrics?.cosine }.min() ?? 1)
        body += chart(title: "Cosine similarity of W₀ and W₁",
                      bars: report.layers.map { Bar(label: $0.name, value: $0.metrics?.cosine,
                                                    color: palette($0.status)) },
                      scale: .linear(min: max(-1, lowest - (1 - lowest) * 0.1), max: 1),
                      lines: [(t.warn.cosine, "warn"), (t.fail.cosine, "fail")])
        let total = max(1, report.layers.reduce(0) { $0 + $1.parameterCount })
        body += chart(title: "Share of parameters",
                      bars: report.layers.map { Bar(label: $0.name, value: Double($0.parameterCount) / Double(total), color: "#6c7a89") },
                      scale: .linear(min: 0, max: max(1e-9, report.layers.map { Double($0.parameterCount) / Double(total) }.max() ?? 1)),
                      lines: [], percent: true)
        body += "</section>\n"

        body += "<section><h2>All layers</h2><table class=\"layers\"><tr><th>#</th><th>layer</th><th>class</th><th>match</th>"
            + "<th>status</th><th>relative change</th><th>cosine</th><th>norm ratio</th><th>max |Δ|</th><th>changed</th>"
            + "<th>NaN/Inf</th><th>parameters</th><th>why</th></tr>\n"
        for (index, layer) in report.layers.enumerated() {
            let m = layer.metrics
            let none = layer.sums != nil ? "NaN" : "—"
            body += "<tr class=\"\(layer.status.rawValue)\"><td>\(index + 1)</td><td>\(escape(layer.name))"
                + (layer.baseName != nil && layer.baseName != layer.name ? "<br/><small>base: \(escape(layer.baseName!))</small>" : "")
                + "</td><td>\(escape(layer.className ?? ""))</td><td>\(layer.matchedBy?.rawValue ?? "—")</td>"
                + "<td><span class=\"badge \(layer.status.rawValue)\">\(layer.status.rawValue)</span></td>"
                + "<td>\(m.map { format($0.relativeChange) } ?? none)</td><td>\(m?.cosine.map(CompareText.cosineText) ?? none)</td>"
                + "<td>\(m?.normRatio.map(format) ?? none)</td><td>\(m.map { format($0.maxAbsChange) } ?? none)</td>"
                + "<td>\(layer.sums.map { percent($0.changedFraction) } ?? "—")</td><td>\(layer.nonFiniteInTuned)</td>"
                + "<td>\(grouped(layer.parameterCount))</td><td>\(escape(Sentences.findings(layer.reasons)))</td></tr>\n"
        }
        body += "</table></section>\n"

        return """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title>WeightDrift: \(escape(report.tuned.path)) vs \(escape(report.base.path))</title>
        <style>
        \(style)
        </style>
        </head>
        <body>
        \(body)<footer class="muted">weightdrift · report schema \(CompareJSON.schemaVersion)</footer>
        </body>
        </html>

        """
    }

    struct Bar {
        let label: String
        let value: Double?
        let color: String
    }

    enum Scale {
        case log
        case linear(min: Double, max: Double)
    }

    /// A bar chart in SVG: one bar per layer, threshold lines, a tooltip (`<title>`) per bar.
    static func chart(title: String, bars: [Bar], scale: Scale, lines: [(Double, String)], percent asPercent: Bool = false) -> String {
        let height = 220.0, top = 16.0, bottom = 26.0, left = 64.0
        let step = max(3.0, min(56.0, 900.0 / Double(max(bars.count, 1))))
        let width = left + step * Double(bars.count) + 16
        let plot = height - top - bottom
        let finite = bars.compactMap(\.value).filter { $0.isFinite && $0 > 0 }
        let (lo, hi): (Double, Double)
        switch scale {
        case .log:
            let candidates = finite + lines.map(\.0)
            lo = pow(10, (log10(candidates.min() ?? 1e-4)).rounded(.down))
            hi = pow(10, (log10(max(candidates.max() ?? 1, lo * 10))).rounded(.up))
        case .linear(let min, let max):
            (lo, hi) = (min, max > min ? max : min + 1)
        }
        func y(_ value: Double) -> Double {
            let fraction: Double
            switch scale {
            case .log: fraction = (log10(Swift.max(value, lo)) - log10(lo)) / (log10(hi) - log10(lo))
            case .linear: fraction = (value - lo) / (hi - lo)
            }
            return top + plot * (1 - Swift.min(1, Swift.max(0, fraction)))
        }
        var svg = "<figure><figcaption>\(escape(title))</figcaption>"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        // Axis ticks.
        var ticks: [Double] = []
        switch scale {
        case .log:
            var tick = lo
            while tick <= hi * 1.0001 { ticks.append(tick); tick *= 10 }
        case .linear:
            ticks = (0...4).map { lo + (hi - lo) * Double($0) / 4 }
        }
        for tick in ticks {
            let label = asPercent ? String(format: "%.0f%%", tick * 100) : format(tick)
            svg += "<line x1=\"\(left)\" x2=\"\(width - 8)\" y1=\"\(r(y(tick)))\" y2=\"\(r(y(tick)))\" class=\"grid\"/>"
                + "<text x=\"\(left - 6)\" y=\"\(r(y(tick) + 4))\" class=\"tick\">\(escape(label))</text>"
        }
        for (index, bar) in bars.enumerated() {
            let x = left + step * Double(index)
            guard let value = bar.value, value.isFinite else {
                svg += "<text x=\"\(r(x + step / 2))\" y=\"\(r(top + plot - 4))\" class=\"missing\">×<title>\(escape(bar.label)): no value</title></text>"
                continue
            }
            let base: Double
            switch scale {
            case .log: base = top + plot
            case .linear: base = y(Swift.max(lo, Swift.min(hi, 0 >= lo ? 0 : lo)))
            }
            let yTop = Swift.min(y(value), base), barHeight = Swift.max(1, abs(base - y(value)))
            let text = asPercent ? String(format: "%.2f%%", value * 100) : format(value)
            svg += "<rect x=\"\(r(x + step * 0.15))\" y=\"\(r(yTop))\" width=\"\(r(step * 0.7))\" height=\"\(r(barHeight))\" "
                + "fill=\"\(bar.color)\"><title>\(escape(bar.label)): \(escape(text))</title></rect>"
        }
        for (value, label) in lines {
            svg += "<line x1=\"\(left)\" x2=\"\(width - 8)\" y1=\"\(r(y(value)))\" y2=\"\(r(y(value)))\" class=\"threshold \(label)\"/>"
                + "<text x=\"\(width - 10)\" y=\"\(r(y(value) - 3))\" class=\"threshold-label\">\(escape(label)) \(escape(format(value)))</text>"
        }
        // Layer labels under the bars, thinned out when there are many.
        let every = max(1, Int((60.0 / step).rounded(.up)))
        for (index, bar) in bars.enumerated() where index % every == 0 {
            let x = left + step * Double(index) + step / 2
            svg += "<text x=\"\(r(x))\" y=\"\(r(height - bottom + 14))\" class=\"label\">\(escape(String(bar.label.suffix(14))))</text>"
        }
        return svg + "</svg></figure>\n"
    }

    public static func r(_ value: Double) -> String { String(format: "%.1f", value) }

    static func palette(_ status: Status) -> String {
        switch status {
        case .ok: "#2e8b57"
        case .warn: "#d4a017"
        case .fail: "#c0392b"
        case .frozen: "#3b7dd8"
        case .new, .reshaped: "#8e44ad"
        case .removed: "#7f8c8d"
        case .ignored: "#bdc3c7"
        }
    }

    public static func escape(_ text: String) -> String { CompareText.xml(text) }

    public static let style = """
    body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px 32px; color: #222; }
    header { padding: 12px 16px; border-radius: 6px; margin: 16px 0; color: #fff; }
    header.pass { background: #2e8b57; } header.fail { background: #c0392b; } header.warn { background: #b9770e; }
    header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0; }
    h2 { font-size: 17px; margin: 24px 0 8px; }
    table { border-collapse: collapse; width: 100%; font-size: 13px; }
    th, td { border-bottom: 1px solid #e3e3e3; padding: 4px 6px; text-align: left; vertical-align: top; }
    table.layers td:nth-child(n+6):nth-child(-n+12) { text-align: right; font-variant-numeric: tabular-nums; }
    tr.fail td { background: #fdecea; } tr.warn td { background: #fff8e1; }
    .badge { padding: 1px 6px; border-radius: 9px; color: #fff; font-size: 12px; }
    .badge.ok { background: #2e8b57; } .badge.warn { background: #d4a017; } .badge.fail { background: #c0392b; }
    .badge.frozen { background: #3b7dd8; } .badge.new, .badge.reshaped { background: #8e44ad; }
    .badge.removed { background: #7f8c8d; } .badge.ignored { background: #bdc3c7; color: #222; }
    .risk.low { color: #2e8b57; } .risk.medium { color: #d4a017; } .risk.high { color: #c0392b; } .risk.unknown { color: #7f8c8d; }
    .muted { color: #666; font-size: 12px; }
    ul.findings li.fail { color: #c0392b; } ul.findings li.warn { color: #9a7400; } ul.findings li.note { color: #555; }
    figure { margin: 8px 0 16px; overflow-x: auto; } figcaption { font-weight: 600; margin-bottom: 4px; }
    svg .grid { stroke: #eee; } svg .tick { font-size: 10px; text-anchor: end; fill: #666; }
    svg .label { font-size: 9px; text-anchor: middle; fill: #444; } svg .missing { font-size: 11px; text-anchor: middle; fill: #c0392b; }
    svg .threshold { stroke-dasharray: 5 3; stroke-width: 1.2; } svg .threshold.warn, svg .threshold.medium { stroke: #d4a017; }
    svg .threshold.fail, svg .threshold.high { stroke: #c0392b; } svg .threshold-label { font-size: 10px; text-anchor: end; fill: #555; }
    code { font-size: 12px; }
    """
}
