import Foundation
import SampleFixtures
import Testing

/// The HTML report rendered in headless Chromium (Debian's `chromium`, installed by tools/test):
/// no console message, and no chart text that overlaps other text or is clipped by its chart —
/// measured from the bounding boxes of the rendered page, on the reports that broke charts before
/// (NaN run, new head, renamed layers, 400 and 1,000 layers).
@Suite struct HTMLRenderTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Appended to a copy of the report (never to the report itself, which has no script): lists
    /// every pair of overlapping text boxes and every text box outside its SVG.
    static let probe = """
    <script>
    (function () {
      var out = [];
      document.querySelectorAll('svg').forEach(function (svg) {
        var box = svg.getBoundingClientRect();
        var texts = Array.prototype.map.call(svg.querySelectorAll('text'), function (t) {
          return { text: t.textContent, r: t.getBoundingClientRect() };
        }).filter(function (x) { return x.r.width > 0; });
        texts.forEach(function (a) {
          if (a.r.left < box.left - 1 || a.r.right > box.right + 1 || a.r.top < box.top - 1 || a.r.bottom > box.bottom + 1)
            out.push('clipped: ' + a.text);
        });
        for (var i = 0; i < texts.length; i++) for (var j = i + 1; j < texts.length; j++) {
          var a = texts[i].r, b = texts[j].r;
          var w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
          if (w > 1 && h > 1) out.push('overlap: ' + texts[i].text + ' / ' + texts[j].text);
        }
      });
      var pre = document.createElement('pre');
      var mark = 'WD' + 'CHECK';
      pre.textContent = mark + JSON.stringify({ svgs: document.querySelectorAll('svg').length, problems: out }) + mark;
      document.body.appendChild(pre);
    })();
    </script>
    """

    func chromium(_ page: URL) throws -> CLI.Result {
        let browser = try #require(Self.chromium, "chromium is not installed (tools/test installs it)")
        return try CLI.run(executable: browser, ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,2000",
                                                 "--enable-logging=stderr", "--v=0", "--dump-dom", page.absoluteString])
    }

    @Test(arguments: [("k3/pretrained.keras", "k3/ft_nan.keras"), ("k3/pretrained.keras", "k3/ft_newhead.keras"),
                      ("k3/pretrained.keras", "k3/ft_renamed.keras"), ("gate/deep400_pretrained.h5", "gate/deep400_ft.h5"),
                      ("gate/deep1000.h5", "gate/deep1000.h5")])
    func rendersCleanlyInChromium(_ base: String, _ tuned: String) throws {
        let folder = try Samples.temporaryDirectory()
        let report = folder.appendingPathComponent("report.html")
        let result = try CLI.run(["compare", Samples.path(base), Samples.path(tuned), "-o", report.path])
        #expect(result.status == 0 || result.status == 1, "\(result.stderr)")
        // The report as shipped: no console message at all.
        let plain = try chromium(report)
        #expect(plain.status == 0)
        let console = plain.stderr.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") || $0.contains("net::ERR") }
        #expect(console.isEmpty, "\(console)")
        // A probed copy: text boxes measured in the rendered page.
        let probed = folder.appendingPathComponent("probed.html")
        let html = try String(contentsOf: report, encoding: .utf8)
        try html.replacingOccurrences(of: "</body>", with: Self.probe + "</body>").write(to: probed, atomically: true, encoding: .utf8)
        let dom = try chromium(probed).stdout
        let parts = dom.components(separatedBy: "WDCHECK")
        try #require(parts.count >= 3, "the probe did not run")
        let json = parts[1].replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect((object["svgs"] as? Int ?? 0) >= 3)
        let problems = object["problems"] as? [String] ?? ["unreadable probe output"]
        #expect(problems.isEmpty, "\(problems.prefix(10))")
    }

    /// Charts of many layers aggregate by block, and a NaN layer is a marked gap with a legend.
    @Test func bigAndNonFiniteChartsSayWhatTheyShow() throws {
        let deep = try CLI.run(["compare", "samples/gate/deep1000.h5", "samples/gate/deep1000.h5", "--format", "html"]).stdout
        #expect(deep.contains("1000 layers in blocks of 9"))
        let nan = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_nan.keras", "--format", "html"]).stdout
        #expect(nan.contains("class=\"nan\""))
        #expect(nan.contains("NaN/Inf, no value"))
        #expect(!nan.contains("1.000e+20"))
    }
}
