import Checkpoint
import Drift
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Report
import SampleFixtures
import Testing

/// Every output format parses back and carries the report's figures.
@Suite struct RenderTests {
    static let tunedFiles = ["k3/ft_lowlr.keras", "k3/ft_highlr.keras", "k3/ft_nan.keras", "k3/ft_newhead.keras"]

    func report(_ tuned: String) throws -> DriftReport {
        try DriftEngine.compare(base: Checkpoint.open(Samples.path("k3/pretrained.keras")),
                                tuned: Checkpoint.open(Samples.path(tuned)), policy: Policy())
    }

    @Test(arguments: tunedFiles)
    func jsonDecodesWithTheDocumentedFields(_ tuned: String) throws {
        let report = try report(tuned)
        let text = CompareJSON.render(report)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["schemaVersion"] as? Int == 1)
        let base = try #require(object["base"] as? [String: Any])
        #expect((base["sha256"] is NSNull) && base["path"] as? String == Samples.path("k3/pretrained.keras"))
        #expect(base["format"] as? String == "keras-zip")
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.count == report.layers.count)
        for (json, layer) in zip(layers, report.layers) {
            #expect(json["name"] as? String == layer.name)
            #expect(json["status"] as? String == layer.status.rawValue)
            for key in ["baseName", "tunedName", "matchedBy", "relativeChange", "cosine", "normRatio", "maxAbsChange",
                        "nanCount", "infCount", "weights"] {
                #expect(json.keys.contains(key), "\(key)")
            }
            if let change = layer.metrics?.relativeChange, change.isFinite {
                #expect(((json["relativeChange"] as? NSNumber)?.doubleValue ?? .nan) - change <= 1e-12 * change)
            }
        }
        // Figures round-trip exactly through a precise JSON reader (Linux's JSONSerialization is not one).
        let exact = try #require(JSONValue.parse(text)?["layers"]?.array)
        for (json, layer) in zip(exact, report.layers) {
            #expect(json["relativeChange"]?.number == layer.metrics?.relativeChange)
        }
        let summary = try #require(object["summary"] as? [String: Any])
        #expect(summary["verdict"] as? String == (report.summary.passed ? "pass" : "fail"))
        #expect(summary["counts"] is [String: Any])
        #expect(object["thresholds"] is [String: Any])
    }

    final class XMLCollector: NSObject, XMLParserDelegate {
        var testcases = 0, failures = 0
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "testcase" { testcases += 1 }
            if name == "failure" { failures += 1 }
        }
    }

    @Test(arguments: tunedFiles)
    func junitIsWellFormedWithOneTestcasePerLayer(_ tuned: String) throws {
        let report = try report(tuned)
        let parser = XMLParser(data: Data(CompareText.junit(report).utf8))
        let collector = XMLCollector()
        parser.delegate = collector
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        // One per layer, then one per gate rule that is not a layer's (coverage, forgetting risk, NaN/Inf).
        #expect(collector.testcases == report.layers.count + 3)
        let nonFinite = report.layers.contains { $0.nonFiniteInTuned + $0.nonFiniteInBase > 0 } ? 1 : 0
        #expect(collector.failures == report.summary.failures.count + nonFinite)
        #expect((collector.failures == 0) == report.summary.passed)
    }

    @Test(arguments: tunedFiles)
    func markdownHasARowPerLayer(_ tuned: String) throws {
        let report = try report(tuned)
        let text = CompareText.markdown(report)
        let icon = report.summary.passed ? (report.forgetting.risk == .high ? "⚠️" : "✅") : "❌"
        #expect(text.hasPrefix("## \(icon) WeightDrift: \(Sentences.verdict(report).lowercased())"))
        for layer in report.layers {
            #expect(text.contains("| \(layer.name) | \(layer.className ?? "") | "), "\(layer.name)")
        }
    }

    @Test(arguments: tunedFiles)
    func githubAnnotationsNameTheFailingLayers(_ tuned: String) throws {
        let report = try report(tuned)
        let lines = CompareText.github(report).split(separator: "\n")
        #expect(lines.allSatisfy { $0.hasPrefix("::error") || $0.hasPrefix("::warning") || $0.hasPrefix("::notice") })
        // Every annotation names the tuned checkpoint and has a title.
        let file = "file=\(report.tuned.path.replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")),title="
        #expect(lines.allSatisfy { $0.contains(file) })
        let errors = lines.filter { $0.contains(",title=weightdrift%3A ") && $0.hasPrefix("::error ") }
        #expect(errors.count == min(10, report.layers.filter(\.failsGate).count))
        #expect(lines.last!.hasPrefix(report.summary.passed ? "::notice \(file)weightdrift verdict::PASS" : "::error \(file)weightdrift verdict::FAIL"))
    }

    final class HTMLCollector: NSObject, XMLParserDelegate {
        var rows = 0, svgs = 0, rects = 0, external: [String] = []
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if name == "tr" { rows += 1 }
            if name == "svg" { svgs += 1 }
            if name == "rect" { rects += 1 }
            if ["script", "link", "img", "iframe"].contains(name) { external.append(name) }
            for (key, value) in attributes where (key == "src" || key == "href") && value.contains("//") { external.append(value) }
        }
    }

    @Test(arguments: tunedFiles)
    func htmlIsWellFormedSelfContainedAndComplete(_ tuned: String) throws {
        let report = try report(tuned)
        let html = HTMLReport.render(report)
        let parser = XMLParser(data: Data(html.dropFirst("<!DOCTYPE html>\n".count).utf8))
        let collector = HTMLCollector()
        parser.delegate = collector
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(collector.external.isEmpty, "\(collector.external)")
        #expect(collector.svgs >= 3)
        // The inputs table has a header and two rows; the layer table a header and a row per layer.
        #expect(collector.rows == 3 + 1 + report.layers.count)
        #expect(html.contains(report.summary.passed ? "WeightDrift: pass" : "WeightDrift: fail"))
        #expect(html.contains("Forgetting risk: <span class=\"risk \(report.forgetting.risk.rawValue)\">"))
        for layer in report.layers { #expect(html.contains(">\(layer.name)")) }
    }

    @Test func tableColoursOnlyWhenAsked() throws {
        let report = try report("k3/ft_highlr.keras")
        #expect(!CompareText.table(report, color: false).contains("\u{1B}["))
        #expect(CompareText.table(report, color: true).contains("\u{1B}[31m"))
    }

    @Test func jsonWriterNeverEmitsNonFiniteNumbers() {
        let text = JSONWriter.write(.array([.number(.nan), .number(.infinity), .number(1.5), .number(3)]))
        #expect(text == "[null, null, 1.5, 3]\n")
    }
}
