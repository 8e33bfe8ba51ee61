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
        body += "<p class=\"muted\">Thresholds: \(escape(Sentences.thresholds(t))); "
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
            + (report.reference.map { "<p>\(escape(Sentences.reference($0))).</p>\n" } ?? "")
        if !f.profile.isEmpty {
            // Coloured by the risk band each layer's own drift falls in.
            body += chart(title: "Backbone relative change by depth (input → output, log scale)",
                          bars: f.profile.map { point in
                              let band: Status = (point.relativeChange ?? .infinity) >= f.cutPoints.high ? .fail
                                  : (point.relativeChange ?? 0) >= f.cutPoints.medium ? .warn : .ok
                              return Bar(label: point.name, value: point.relativeChange, status: band,
                                         missing: point.relativeChange == nil ? .nonFinite : nil)
                          },
                          scale: .log, lines: [(f.cutPoints.medium, "medium"), (f.cutPoints.high, "high")],
                          legend: [("low", palette(.ok)), ("medium", palette(.warn)), ("high", palette(.fail))])
        }
        if !f.headLayers.isEmpty {
            body += "<p class=\"muted\">Head and new layers, left out: \(escape(f.headLayers.joined(separator: ", "))).</p>"
        }
        body += "</section>\n"

        body += "<section><h2>Drift per layer, in model order</h2>\n"
        func missing(_ layer: LayerResult) -> Bar.Missing? {
            layer.sums == nil ? .notCompared : layer.metrics == nil ? .nonFinite : nil
        }
        let statusLegend = Status.allCases.filter { status in report.layers.contains { $0.status == status } }
            .map { ($0.rawValue, palette($0)) }
        body += chart(title: "Relative change ‖W₁−W₀‖/‖W₀‖ (log scale)",
                      bars: report.layers.map { Bar(label: $0.name, value: $0.metrics?.relativeChange, status: $0.status, missing: missing($0)) },
                      scale: .log, lines: [(t.warn.relativeChange, "warn"), (t.fail.relativeChange, "fail")], legend: statusLegend)
        // 1 − cosine on a log scale: a linear cosine axis that starts near its lowest value makes
        // small differences look huge. Identical weights (1 − cos = 0) sit on the floor.
        body += chart(title: "1 − cosine similarity of W₀ and W₁ (log scale; 0 = same direction)",
                      bars: report.layers.map { layer in
                          Bar(label: layer.name, value: layer.metrics?.cosine.map { 1 - $0 }, status: layer.status,
                              missing: missing(layer) ?? (layer.metrics?.cosine == nil ? .nonFinite : nil))
                      },
                      scale: .log, lines: [(1 - t.warn.cosine, "warn"), (1 - t.fail.cosine, "fail")], legend: statusLegend)
        let total = max(1, report.layers.reduce(0) { $0 + $1.parameterCount })
        let shares = report.layers.map { Double($0.parameterCount) / Double(total) }
        body += chart(title: "Share of parameters",
                      bars: zip(report.layers, shares).map { Bar(label: $0.name, value: $1, status: $0.status) },
                      scale: .linear(min: 0, max: max(1e-9, shares.max() ?? 1)), lines: [], percent: true, legend: statusLegend)
        body += "</section>\n"

        body += "<section><h2>All layers</h2><table class=\"layers\"><tr><th>#</th><th>layer</th><th>class</th><th>match</th>"
            + "<th>status</th>" + Metric.columns(in: .html).map { "<th>\(escape($0.columns[.html]!))</th>" }.joined()
            + "<th>NaN/Inf</th><th>parameters</th><th>why</th></tr>\n"
        for (index, layer) in report.layers.enumerated() {
            body += "<tr class=\"\(layer.status.rawValue)\"><td>\(index + 1)</td><td>\(escape(layer.name))"
                + (layer.baseName != nil && layer.baseName != layer.name ? "<br/><small>base: \(escape(layer.baseName!))</small>" : "")
                + "</td><td>\(escape(layer.className ?? ""))</td><td>\(layer.matchedBy?.rawValue ?? "—")</td>"
                + "<td><span class=\"badge \(layer.status.rawValue)\">\(layer.status.rawValue)</span></td>"
                + Metric.columns(in: .html).map { "<td>\(CompareText.cell($0, layer.sums))</td>" }.joined()
                + "<td>\(layer.nonFiniteInTuned)</td>"
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
        \(body)<footer class="muted">weightdrift \(ToolInfo.version) · report schema \(CompareJSON.schemaVersion)</footer>
        </body>
        </html>

        """
    }

    struct Bar {
        enum Missing { case notCompared, nonFinite }
        let label: String
        let value: Double?
        let status: Status
        var missing: Missing?
    }

    enum Scale {
        case log
        case linear(min: Double, max: Double)
    }

    /// Above this many bars, consecutive layers are drawn as blocks (the block's largest value and
    /// worst status), so a 1,000-layer model stays readable.
    static let maxBars = 120

    /// A bar chart in SVG that scales to the page (viewBox, width 100%): one bar per layer (or block),
    /// a handful of ticks in one number format, threshold lines with labels that do not collide,
    /// layers with no value drawn as marked gaps, every label shown or rotated, a legend.
    static func chart(title: String, bars input: [Bar], scale: Scale, lines: [(Double, String)], percent asPercent: Bool = false,
                      legend: [(String, String)] = []) -> String {
        // Blocks of consecutive layers when there are too many to draw one by one.
        var bars = input
        var blockSize = 1
        if input.count > maxBars {
            blockSize = Int((Double(input.count) / Double(maxBars)).rounded(.up))
            bars = stride(from: 0, to: input.count, by: blockSize).map { start in
                let block = input[start..<min(start + blockSize, input.count)]
                let values = block.compactMap(\.value)
                let worst = block.max { severity($0.status) < severity($1.status) }?.status ?? .ok
                let missing: Bar.Missing? = values.isEmpty ? (block.contains { $0.missing == .nonFinite } ? .nonFinite : .notCompared)
                    : nil
                let label = block.count > 1 ? "\(block.first!.label) … \(block.last!.label)" : block.first!.label
                return Bar(label: label, value: asPercent ? values.reduce(0, +) : values.max(), status: worst, missing: missing)
            }
        }
        let anyNonFinite = bars.contains { $0.missing == .nonFinite }
        let anyNotCompared = bars.contains { $0.missing == .notCompared }
        let width = 1100.0, left = 58.0, right = 92.0, top = 14.0
        let step = (width - left - right) / Double(max(bars.count, 1))
        // Labels: horizontal when they fit, else vertical (every one, or every k-th when even
        // vertical labels at 11 px would collide).
        let maxLabel = 22
        let labels = bars.map { String($0.label.count > maxLabel ? "…" + $0.label.suffix(maxLabel - 1) : $0.label) }
        let longest = Double(labels.map(\.count).max() ?? 1)
        let horizontal = longest * 5.6 + 4 <= step
        let every = horizontal ? 1 : max(1, Int((11.0 / step).rounded(.up)))
        let labelSpace = horizontal ? 16.0 : longest * 5.4 + 10
        let plot = 190.0
        let legendRow = 18.0
        let height = top + plot + labelSpace + legendRow + 6
        let finite = bars.compactMap(\.value).filter { $0.isFinite && $0 > 0 }
        let (lo, hi): (Double, Double)
        switch scale {
        case .log:
            let candidates = finite + lines.map(\.0).filter { $0 > 0 }
            lo = pow(10, log10(candidates.min() ?? 1e-4).rounded(.down))
            hi = pow(10, log10(max(candidates.max() ?? 1, lo * 10)).rounded(.up))
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
        var ticks: [Double] = []
        switch scale {
        case .log:
            // At most 6 decades labelled, evenly spaced.
            let decades = Int(log10(hi / lo).rounded())
            let stride = max(1, Int((Double(decades) / 5).rounded(.up)))
            ticks = Swift.stride(from: 0, through: decades, by: stride).map { lo * pow(10, Double($0)) }
        case .linear:
            ticks = niceTicks(lo, hi)
        }
        func tickText(_ value: Double) -> String {
            if asPercent { return percentTick(value, ticks: ticks) }
            if case .log = scale { return logTick(value, plain: ticks.allSatisfy { $0 >= 1e-3 && $0 <= 1e3 }) }
            return format(value)
        }
        var svg = "<figure><figcaption>\(escape(title))\(blockSize > 1 ? " — \(input.count) layers in blocks of \(blockSize)" : "")</figcaption>"
        svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"100%\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" "
            + "preserveAspectRatio=\"xMinYMin meet\">"
        for tick in ticks {
            svg += "<line x1=\"\(left)\" x2=\"\(r(width - right))\" y1=\"\(r(y(tick)))\" y2=\"\(r(y(tick)))\" class=\"grid\"/>"
                + "<text x=\"\(left - 6)\" y=\"\(r(y(tick) + 3.5))\" class=\"tick\">\(escape(tickText(tick)))</text>"
        }
        let floor = top + plot
        for (index, bar) in bars.enumerated() {
            let x = left + step * Double(index)
            let tip = escape(bar.label)
            guard let value = bar.value, value.isFinite else {
                // A marked gap: hatched full height, so a missing value never reads as a zero.
                let kind = bar.missing == .notCompared ? "not compared" : "NaN or Inf: no value"
                svg += "<rect x=\"\(r(x + step * 0.1))\" y=\"\(r(top))\" width=\"\(r(max(1, step * 0.8)))\" height=\"\(r(plot))\" "
                    + "class=\"\(bar.missing == .notCompared ? "gap" : "nan")\"><title>\(tip): \(kind)</title></rect>"
                continue
            }
            let base: Double
            switch scale {
            case .log: base = floor
            case .linear: base = y(Swift.max(lo, Swift.min(hi, 0 >= lo ? 0 : lo)))
            }
            let yTop = Swift.min(y(value), base), barHeight = Swift.max(1, abs(base - y(value)))
            let text = asPercent ? String(format: "%.2f%%", value * 100) : format(value)
            svg += "<rect x=\"\(r(x + step * 0.12))\" y=\"\(r(yTop))\" width=\"\(r(max(1, step * 0.76)))\" height=\"\(r(barHeight))\" "
                + "fill=\"\(palette(bar.status))\"><title>\(tip): \(escape(text)) (\(bar.status.rawValue))</title></rect>"
        }
        // Threshold lines, labelled in the right margin; a label that would touch the previous one
        // moves down.
        var lastLabelY = -Double.infinity
        for (value, label) in lines.sorted(by: { y($0.0) < y($1.0) }) {
            let lineY = y(value)
            let labelY = max(lineY + 3.5, lastLabelY + 12)
            lastLabelY = labelY
            svg += "<line x1=\"\(left)\" x2=\"\(r(width - right))\" y1=\"\(r(lineY))\" y2=\"\(r(lineY))\" class=\"threshold \(label)\"/>"
                + "<text x=\"\(r(width - right + 6))\" y=\"\(r(labelY))\" class=\"threshold-label\">\(escape(label)) "
                + "\(escape(asPercent ? String(format: "%.1f%%", value * 100) : format(value)))</text>"
        }
        for (index, label) in labels.enumerated() where index % every == 0 {
            let x = left + step * Double(index) + step / 2
            if horizontal {
                svg += "<text x=\"\(r(x))\" y=\"\(r(floor + 13))\" class=\"label\">\(escape(label))</text>"
            } else {
                svg += "<text x=\"\(r(x + 3))\" y=\"\(r(floor + 6))\" class=\"label vertical\" "
                    + "transform=\"rotate(-90 \(r(x + 3)) \(r(floor + 6)))\">\(escape(label))</text>"
            }
        }
        // Legend: status colours, and the gap markers when any are drawn.
        var entries = legend.map { ($0.0, "fill=\"\($0.1)\"") }
        if anyNonFinite { entries.append(("NaN/Inf, no value", "class=\"nan\"")) }
        if anyNotCompared { entries.append(("not compared", "class=\"gap\"")) }
        var legendX = left
        let legendY = height - legendRow + 2
        for (text, paint) in entries {
            svg += "<rect x=\"\(r(legendX))\" y=\"\(r(legendY))\" width=\"10\" height=\"10\" \(paint)/>"
                + "<text x=\"\(r(legendX + 14))\" y=\"\(r(legendY + 9))\" class=\"legend\">\(escape(text))</text>"
            legendX += 14 + Double(text.count) * 6.2 + 16
        }
        return svg + "</svg></figure>\n"
    }

    static func severity(_ status: Status) -> Int {
        switch status {
        case .fail: 5
        case .warn: 4
        case .reshaped, .new, .removed: 3
        case .ok: 2
        case .frozen: 1
        case .ignored: 0
        }
    }

    /// Decades in one format per axis: plain (`0.001` … `1000`) when every tick is in that range,
    /// else powers of ten (`1e-6`, `1e0`, `1e6`).
    static func logTick(_ value: Double, plain: Bool) -> String {
        let exponent = Int(log10(value).rounded())
        guard plain else { return "1e\(exponent)" }
        return exponent < 0 ? String(format: "%.\(-exponent)f", value) : String(Int(value.rounded()))
    }

    /// About five round ticks from lo to hi.
    static func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 4
        let magnitude = pow(10, log10(raw).rounded(.down))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var ticks: [Double] = []
        var tick = (lo / step).rounded(.down) * step
        while tick <= hi + step * 1e-9 {
            if tick >= lo - step * 1e-9 { ticks.append(tick) }
            tick += step
        }
        return ticks
    }

    /// Percent ticks with as many decimals as the step needs (never every tick `0%`).
    static func percentTick(_ value: Double, ticks: [Double]) -> String {
        let step = ticks.count > 1 ? ticks[1] - ticks[0] : max(value, 1e-9)
        let decimals = max(0, min(4, Int((-log10(step * 100)).rounded(.up))))
        return String(format: "%.\(decimals)f%%", value * 100)
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

    public static func escape(_ text: String) -> String { Sanitize.xml(text) }

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
    figure { margin: 8px 0 16px; } figcaption { font-weight: 600; margin-bottom: 4px; }
    svg .grid { stroke: #eee; } svg .tick { font-size: 10px; text-anchor: end; fill: #666; }
    svg .label { font-size: 9px; text-anchor: middle; fill: #444; } svg .label.vertical { text-anchor: end; }
    svg .nan { fill: #f6d5d1; stroke: #c0392b; stroke-width: 0.6; stroke-dasharray: 2 2; }
    svg .gap { fill: #eef0f2; stroke: #b0b7bf; stroke-width: 0.6; stroke-dasharray: 2 2; }
    svg .legend { font-size: 10px; fill: #444; }
    svg .threshold { stroke-dasharray: 5 3; stroke-width: 1.2; } svg .threshold.warn, svg .threshold.medium { stroke: #d4a017; }
    svg .threshold.fail, svg .threshold.high { stroke: #c0392b; } svg .threshold-label { font-size: 10px; text-anchor: start; fill: #555; }
    code { font-size: 12px; }
    """
}
