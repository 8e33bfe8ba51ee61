public import Checkpoint
public import Drift
import Foundation

/// `weightdrift trend BASE CKPT…`: drift per layer across a series of checkpoints (one per
/// epoch, say), and the first checkpoint that breaches the gate — where to stop training.
public struct Trend: Sendable {
    public let base: String
    public let reports: [DriftReport]
    /// Layer names in the order of the base checkpoint's rows.
    public let layers: [String]

    public init(base: String, reports: [DriftReport]) {
        self.base = base
        self.reports = reports
        var names: [String] = []
        for report in reports {
            for layer in report.layers where !names.contains(layer.baseName ?? layer.name) {
                names.append(layer.baseName ?? layer.name)
            }
        }
        layers = names
    }

    /// Index of the first checkpoint whose gate fails.
    public var firstBreach: Int? { reports.firstIndex { !$0.summary.passed } }

    func value(_ report: DriftReport, _ layer: String) -> Double? {
        guard let row = report.layers.first(where: { ($0.baseName ?? $0.name) == layer }) else { return nil }
        return row.metrics?.relativeChange
    }

    public var conclusion: String {
        guard let breach = firstBreach else {
            return "no checkpoint breaches the gate"
        }
        let report = reports[breach]
        var text = "first breach: checkpoint \(breach + 1) (\(report.tuned.path)): "
            + (report.summary.failures.first.map(Sentences.gateReason) ?? "gate failed")
        text += breach > 0 ? "; stop before it, at checkpoint \(breach) (\(reports[breach - 1].tuned.path))"
            : "; the first checkpoint already fails"
        return text
    }

    public func json() -> JSONValue {
        .object([
            "schemaVersion": .int(1),
            "base": .string(base),
            "checkpoints": .array(reports.enumerated().map { index, report in
                .object([
                    "index": .int(index + 1),
                    "path": .string(report.tuned.path),
                    "verdict": .string(report.summary.passed ? "pass" : "fail"),
                    "worstLayer": .optional(report.summary.worstLayer),
                    "forgettingRisk": .string(report.forgetting.risk.rawValue),
                    "forgettingScore": .optional(report.forgetting.score),
                    "failures": .array(report.summary.failures.map { .string(Sentences.gateReason($0)) }),
                    "relativeChange": .object(Dictionary(layers.map { ($0, JSONValue.optional(value(report, $0))) },
                                                         uniquingKeysWith: { a, _ in a })),
                ])
            }),
            "layers": .array(layers.map { .string($0) }),
            "firstBreach": firstBreach.map { .object(["index": .int($0 + 1), "path": .string(reports[$0].tuned.path)]) } ?? .null,
            "conclusion": .string(conclusion),
        ])
    }

    public func table() -> String {
        var out = "base: \(Sanitize.terminal(base))\n"
        for (index, report) in reports.enumerated() { out += "  [\(index + 1)] \(Sanitize.terminal(report.tuned.path))\n" }
        out += "\nrelative change per layer:\n"
        var columns: [(String, TextTable.Alignment)] = [("layer", .left)]
        columns += reports.indices.map { ("[\($0 + 1)]", .right) }
        var table = TextTable(columns)
        for layer in layers {
            table.add([layer] + reports.map { report in value(report, layer).map(format) ?? "—" })
        }
        table.add(["verdict"] + reports.map { $0.summary.passed ? "pass" : "FAIL" })
        table.add(["risk"] + reports.map { $0.forgetting.risk.rawValue })
        out += table.render()
        return out + "\n" + Sanitize.terminal(conclusion) + "\n"
    }

    /// A self-contained page with a line chart per layer across the series (log scale).
    public func html() -> String {
        let width = 900.0, height = 360.0, left = 64.0, right = 160.0, top = 16.0, bottom = 36.0
        let values = reports.flatMap { report in layers.compactMap { value(report, $0) } }.filter { $0 > 0 && $0.isFinite }
        let thresholds = reports.first.map { [$0.policy.thresholds.warn.relativeChange, $0.policy.thresholds.fail.relativeChange] } ?? []
        let lo = pow(10, log10((values + thresholds).min() ?? 1e-3).rounded(.down))
        let hi = pow(10, log10(max((values + thresholds).max() ?? 1, lo * 10)).rounded(.up))
        func x(_ index: Int) -> Double {
            left + (width - left - right) * (reports.count > 1 ? Double(index) / Double(reports.count - 1) : 0.5)
        }
        func y(_ value: Double) -> Double {
            top + (height - top - bottom) * (1 - (log10(max(value, lo)) - log10(lo)) / (log10(hi) - log10(lo)))
        }
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
        // At most 6 decades labelled, in one number format.
        let decades = Int(log10(hi / lo).rounded())
        let ticks = stride(from: 0, through: decades, by: max(1, Int((Double(decades) / 5).rounded(.up)))).map { lo * pow(10, Double($0)) }
        let plain = ticks.allSatisfy { $0 >= 1e-3 && $0 <= 1e3 }
        for tick in ticks {
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(HTMLReport.r(y(tick)))\" y2=\"\(HTMLReport.r(y(tick)))\" stroke=\"#eee\"/>"
                + "<text x=\"\(left - 6)\" y=\"\(HTMLReport.r(y(tick) + 4))\" font-size=\"10\" text-anchor=\"end\" fill=\"#666\">"
                + "\(HTMLReport.logTick(tick, plain: plain))</text>"
        }
        for (index, report) in reports.enumerated() {
            svg += "<text x=\"\(HTMLReport.r(x(index)))\" y=\"\(Int(height - bottom + 16))\" font-size=\"10\" text-anchor=\"middle\" "
                + "fill=\"\(report.summary.passed ? "#444" : "#c0392b")\">[\(index + 1)]<title>\(HTMLReport.escape(report.tuned.path))</title></text>"
        }
        for (value, (label, color)) in zip(thresholds, [("warn", "#d4a017"), ("fail", "#c0392b")]) {
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(HTMLReport.r(y(value)))\" y2=\"\(HTMLReport.r(y(value)))\" "
                + "stroke=\"\(color)\" stroke-dasharray=\"5 3\"/><text x=\"\(width - right + 4)\" y=\"\(HTMLReport.r(y(value) + 4))\" "
                + "font-size=\"10\" fill=\"\(color)\">\(label) \(format(value))</text>"
        }
        if let breach = firstBreach {
            svg += "<line x1=\"\(HTMLReport.r(x(breach)))\" x2=\"\(HTMLReport.r(x(breach)))\" y1=\"\(top)\" y2=\"\(height - bottom)\" "
                + "stroke=\"#c0392b\" stroke-width=\"2\" opacity=\"0.4\"><title>first breach</title></line>"
        }
        for (index, layer) in layers.enumerated() {
            let color = colors[index % colors.count]
            let points = reports.enumerated().compactMap { i, report in value(report, layer).map { "\(HTMLReport.r(x(i))),\(HTMLReport.r(y($0)))" } }
            guard !points.isEmpty else { continue }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" points=\"\(points.joined(separator: " "))\">"
                + "<title>\(HTMLReport.escape(layer))</title></polyline>"
            if index < 24 {
                svg += "<text x=\"\(width - right + 4)\" y=\"\(Int(top + 24 + Double(index) * 12))\" font-size=\"10\" fill=\"\(color)\">\(HTMLReport.escape(String(layer.suffix(22))))</text>"
            }
        }
        svg += "</svg>"
        var rows = ""
        for layer in layers {
            rows += "<tr><td>\(HTMLReport.escape(layer))</td>" + reports.map { "<td>\(value($0, layer).map(format) ?? "—")</td>" }.joined() + "</tr>\n"
        }
        return """
        <!DOCTYPE html>
        <html xmlns="http://www.w3.org/1999/xhtml" lang="en">
        <head><meta charset="utf-8"/><title>WeightDrift trend: \(HTMLReport.escape(base))</title>
        <style>\(HTMLReport.style)</style></head>
        <body>
        <header class="\(firstBreach == nil ? "pass" : "fail")"><h1>WeightDrift trend</h1><p>\(HTMLReport.escape(conclusion))</p></header>
        <section><h2>Relative change per layer across the series (log scale)</h2><figure>\(svg)</figure></section>
        <section><h2>Values</h2><table><tr><th>layer</th>\(reports.indices.map { "<th>[\($0 + 1)]</th>" }.joined())</tr>
        \(rows)</table></section>
        </body>
        </html>

        """
    }

    // MARK: CI formats

    /// Markdown: the conclusion, one row per checkpoint (verdict, risk, worst layer, first reason),
    /// and the per-layer series folded into <details>.
    public func markdown() -> String {
        func cell(_ text: String) -> String { Sanitize.markdown(text) }
        var out = "## \(firstBreach == nil ? "✅" : "❌") WeightDrift trend: \(firstBreach == nil ? "pass" : "fail")\n\n"
        out += "\(cell(conclusion))\n\n| # | checkpoint | verdict | forgetting risk | worst layer | why |\n|---:|---|---|---|---|---|\n"
        for (index, report) in reports.enumerated() {
            out += "| \(index + 1) | \(cell(report.tuned.path)) | \(report.summary.passed ? "pass" : "**fail**") | "
                + "\(report.forgetting.risk.rawValue) | \(cell(report.summary.worstLayer ?? "—")) | "
                + "\(cell(report.summary.failures.first.map(Sentences.gateReason) ?? "")) |\n"
        }
        out += "\n<details><summary>relative change per layer</summary>\n\n| layer | "
            + reports.indices.map { "[\($0 + 1)]" }.joined(separator: " | ") + " |\n|---|" + String(repeating: "---:|", count: reports.count) + "\n"
        for layer in layers {
            let line = "| \(cell(layer)) | " + reports.map { value($0, layer).map(format) ?? "—" }.joined(separator: " | ") + " |\n"
            guard out.utf8.count + line.utf8.count < CompareText.markdownBudget else {
                out += "\n… more layers not listed (see the JSON or HTML report)\n"
                break
            }
            out += line
        }
        return out + "\n</details>\n"
    }

    /// JUnit: one testsuite per checkpoint, as `compare --format junit` writes it.
    public func junit() -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        let total = reports.reduce(0.0) { $0 + $1.seconds }
        let failures = reports.reduce(0) { $0 + $1.summary.failures.count }
        out += "<testsuites name=\"weightdrift trend\" failures=\"\(failures)\" time=\"\(String(format: "%.3f", total))\">\n"
        for report in reports {
            let one = CompareText.junit(report)
            // The compare report's <testsuite> element, re-used as is.
            if let start = one.range(of: "  <testsuite "), let end = one.range(of: "</testsuite>\n") {
                out += String(one[start.lowerBound..<end.upperBound])
            }
        }
        return out + "</testsuites>\n"
    }

    /// GitHub annotations: the first breach's reasons as errors, the conclusion last.
    public func github() -> String {
        guard let breach = firstBreach else { return "::notice title=weightdrift trend::\(Sanitize.github(conclusion))\n" }
        let annotations = CompareText.github(reports[breach]).split(separator: "\n").filter { $0.hasPrefix("::error") }
        return annotations.map { $0 + "\n" }.joined()
            + "::error file=\(Sanitize.github(reports[breach].tuned.path, property: true)),title=weightdrift trend::\(Sanitize.github(conclusion))\n"
    }

    /// GitLab Code Quality issues of the first breaching checkpoint (none when the series passes).
    public func gitlabCodeQuality() -> String {
        guard let breach = firstBreach else { return "[]\n" }
        return CompareText.gitlabCodeQuality(reports[breach])
    }
}
