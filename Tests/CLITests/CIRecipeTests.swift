import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SampleFixtures
import Testing

/// The README's CI recipes, run as written in a simulated runner: the GitHub Actions `run:` block
/// under `bash -eo pipefail` (as the runner runs it) with GITHUB_ACTIONS and GITHUB_STEP_SUMMARY
/// set, and the GitLab `script:` lines with GITLAB_CI set. The install line is the wheel's
/// (tested by the Python suite); here `weightdrift` is the built binary on PATH.
@Suite struct CIRecipeTests {
    static let readme = (try? String(contentsOfFile: Samples.root.appendingPathComponent("README.md").path, encoding: .utf8)) ?? ""

    /// The YAML code block of the README whose first line is `firstLine`.
    static func yamlBlock(startingWith firstLine: String) -> [Substring] {
        guard let start = readme.range(of: "```yaml\n\(firstLine)\n") else { return [] }
        let rest = readme[start.upperBound...]
        let end = rest.range(of: "\n```")?.lowerBound ?? rest.endIndex
        return rest[..<end].split(separator: "\n", omittingEmptySubsequences: false)
    }

    /// The `run: |` block of the GitHub step named `step`, dedented.
    static func githubScript(step: String) -> String {
        let lines = yamlBlock(startingWith: "# .github/workflows/weightdrift.yml")
        guard let named = lines.firstIndex(where: { $0.contains("- name: \(step)") }),
              let run = lines[named...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "run: |" }) else { return "" }
        let indent = lines[run].prefix { $0 == " " }.count
        var body: [Substring] = []
        for line in lines[(run + 1)...] {
            guard line.prefix(while: { $0 == " " }).count > indent else { break }
            body.append(line)
        }
        let common = body.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return body.map { String($0.dropFirst(common)) }.joined(separator: "\n")
    }

    /// The GitLab job's `script:` commands, less the install line.
    static func gitlabScript() -> String {
        let lines = yamlBlock(startingWith: "# .gitlab-ci.yml")
        guard let script = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "script:" }) else { return "" }
        var commands: [String] = []
        for line in lines[(script + 1)...] {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("- ") else { break }
            let command = String(trimmed.dropFirst(2))
            if !command.hasPrefix("pip install") { commands.append(command) }
        }
        return commands.joined(separator: "\n")
    }

    /// A workspace with the recipe's model paths: the sample base and `tuned` as the fine-tune.
    func workspace(tuned: String) throws -> URL {
        let folder = try Samples.temporaryDirectory()
        let models = folder.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Samples.path("k3/pretrained.keras"), toPath: models.appendingPathComponent("pretrained.keras").path)
        try FileManager.default.copyItem(atPath: Samples.path(tuned), toPath: models.appendingPathComponent("finetuned.keras").path)
        return folder
    }

    var path: String {
        URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
    }

    @Test(arguments: [("k3/ft_highlr.keras", Int32(1)), ("k3/ft_lowlr.keras", 0)])
    func githubActionsRecipe(_ tuned: String, _ expected: Int32) throws {
        let script = Self.githubScript(step: "Gate the fine-tune")
        try #require(script.hasPrefix("weightdrift compare "), "the README's GitHub recipe was not found")
        let folder = try workspace(tuned: tuned)
        let summary = folder.appendingPathComponent("step-summary.md")
        let result = try CLI.run(executable: "/bin/bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                 environment: ["PATH": path, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary.path],
                                 directory: folder)
        #expect(result.status == expected, "\(result.stderr)")
        // Annotations on stdout, naming the file and with a title.
        let annotations = result.stdout.split(separator: "\n").filter { $0.hasPrefix("::") }
        #expect(annotations.allSatisfy { $0.contains(" file=models/finetuned.keras,title=") })
        #expect(annotations.last?.hasPrefix(expected == 0 ? "::notice " : "::error ") == true)
        if expected == 1 { #expect(annotations.filter { $0.hasPrefix("::error ") }.count >= 2) }
        // The step summary, appended without any flag.
        let markdown = try String(contentsOf: summary, encoding: .utf8)
        #expect(markdown.hasPrefix(expected == 0 ? "## " : "## ❌ WeightDrift: fail"))
        // Every artefact the upload step names, all from the same run.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("weightdrift.json"))) as? [String: Any])
        #expect((json["summary"] as? [String: Any])?["verdict"] as? String == (expected == 0 ? "pass" : "fail"))
        let junit = try String(contentsOf: folder.appendingPathComponent("weightdrift.xml"), encoding: .utf8)
        #expect(junit.contains("<testsuites name=\"weightdrift\""))
        #expect(junit.contains(expected == 0 ? "failures=\"0\"" : "<failure "))
        #expect(try String(contentsOf: folder.appendingPathComponent("weightdrift.html"), encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
    }

    @Test func githubOptOut() throws {
        let folder = try workspace(tuned: "k3/ft_lowlr.keras")
        let summary = folder.appendingPathComponent("step-summary.md")
        let result = try CLI.run(["compare", "models/pretrained.keras", "models/finetuned.keras", "--no-ci"],
                                 environment: ["GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": summary.path], directory: folder)
        #expect(result.status == 0)
        #expect(!result.stdout.contains("::"))
        #expect(!FileManager.default.fileExists(atPath: summary.path))
    }

    @Test func gitlabRecipe() throws {
        let script = Self.gitlabScript()
        try #require(script.hasPrefix("weightdrift compare "), "the README's GitLab recipe was not found")
        let folder = try workspace(tuned: "k3/ft_highlr.keras")
        let result = try CLI.run(executable: "/bin/bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                                 environment: ["PATH": path, "GITLAB_CI": "true"], directory: folder)
        #expect(result.status == 1)
        let issues = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("gl-code-quality.json"))) as? [[String: Any]])
        #expect(issues.count >= 5)
        for issue in issues {
            for key in ["description", "check_name", "fingerprint", "severity", "location"] { #expect(issue[key] != nil, "\(key)") }
            #expect((issue["location"] as? [String: Any])?["path"] as? String == "models/finetuned.keras")
            #expect(["info", "minor", "major", "critical", "blocker"].contains(issue["severity"] as? String ?? ""))
        }
        #expect(Set(issues.compactMap { $0["fingerprint"] as? String }).count == issues.count)
        #expect(try String(contentsOf: folder.appendingPathComponent("weightdrift.xml"), encoding: .utf8).contains("<failure "))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("weightdrift.html").path))
    }

    @Test func oneRunWritesEveryFormatWithOneDecision() throws {
        let folder = try Samples.temporaryDirectory()
        var args = ["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--format", "json"]
        let formats = ["table": "txt", "markdown": "md", "junit": "xml", "github": "gh", "gitlab": "cq.json", "html": "html"]
        for (format, ext) in formats { args += ["--report", "\(format)=\(folder.appendingPathComponent("r.\(ext)").path)"] }
        let result = try CLI.run(args)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("{"))
        #expect(result.stderr.hasPrefix("FAIL"))
        for (format, ext) in formats {
            let text = try String(contentsOf: folder.appendingPathComponent("r.\(ext)"), encoding: .utf8)
            #expect(!text.isEmpty, "\(format)")
            // The same reasons everywhere: the worst layer's failure is in every artefact.
            #expect(text.contains("dense"), "\(format)")
        }
        let same = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--format", "json"]).stdout
        #expect(same == result.stdout)
    }

    @Test func conflictingOutputsAreUsageErrors() throws {
        let cases: [[String]] = [["--report", "json=a.json", "--report", "html=a.json"], ["--report", "json", "--report", "html"],
                                 ["--report", "pdf=a.pdf"], ["--top", "3", "--all"]]
        for extra in cases {
            let result = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_lowlr.keras"] + extra)
            #expect(result.status == 2, "\(extra)")
        }
    }

    @Test func tableRespectsNoColorAndTheTerminalWidth() throws {
        let wide = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--color"])
        #expect(wide.stdout.contains("\u{1B}["))
        let narrow = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras"], environment: ["COLUMNS": "60"])
        let tableLines = narrow.stdout.split(separator: "\n").drop { !$0.hasPrefix("layer ") }.prefix(6)
        #expect(tableLines.count == 6)
        #expect(tableLines.allSatisfy { $0.count <= 60 }, "\(tableLines)")
        let plain = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras"], environment: ["NO_COLOR": "1"])
        #expect(!plain.stdout.contains("\u{1B}["))
    }
}

/// `trend` writes every format `compare` does; `schedule` and `history` write to `--output`.
@Suite struct TrendAndTrainingOutputTests {
    @Test func trendWritesEveryFormatFromOneRun() throws {
        let series = Samples.manifest.series.checkpoints.map { "samples/\($0)" }
        try #require(series.count >= 3)
        let folder = try Samples.temporaryDirectory()
        var args = ["trend", "samples/k3/pretrained.keras"] + series
        let formats = ["json": "json", "markdown": "md", "junit": "xml", "github": "gh", "gitlab": "cq.json", "html": "html"]
        for (format, ext) in formats { args += ["--report", "\(format)=\(folder.appendingPathComponent("t.\(ext)").path)"] }
        let result = try CLI.run(args)
        #expect(result.status == 1, "the series breaches the gate: \(result.stderr)")
        let trend = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("t.json"))) as? [String: Any])
        let breach = try #require((trend["firstBreach"] as? [String: Any])?["path"] as? String)
        let markdown = try String(contentsOf: folder.appendingPathComponent("t.md"), encoding: .utf8)
        #expect(markdown.hasPrefix("## ❌ WeightDrift trend: fail"))
        #expect(markdown.contains(breach))
        let junit = try String(contentsOf: folder.appendingPathComponent("t.xml"), encoding: .utf8)
        #expect(junit.components(separatedBy: "<testsuite ").count - 1 == series.count)
        #expect(XMLParser(data: Data(junit.utf8)).parse())
        let github = try String(contentsOf: folder.appendingPathComponent("t.gh"), encoding: .utf8)
        #expect(github.split(separator: "\n").last?.hasPrefix("::error file=\(breach),title=weightdrift trend::first breach") == true)
        let issues = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("t.cq.json"))) as? [[String: Any]])
        #expect(!issues.isEmpty)
    }

    @Test func scheduleAndHistoryWriteToOutput() throws {
        let folder = try Samples.temporaryDirectory()
        let schedule = folder.appendingPathComponent("schedule.json")
        let s = try CLI.run(["schedule", "samples/k3/ft_schedule.keras", "-o", schedule.path])
        #expect(s.status == 0, "\(s.stderr)")
        #expect(s.stdout.isEmpty)
        #expect((try JSONSerialization.jsonObject(with: Data(contentsOf: schedule))) is [String: Any])
        let history = folder.appendingPathComponent("history.txt")
        let h = try CLI.run(["history", "samples/logs/overfit.csv", "--output", history.path])
        #expect(h.status == 0, "\(h.stderr)")
        #expect(try String(contentsOf: history, encoding: .utf8).contains("overfit"))
        let into = try CLI.run(["history", "samples/logs/overfit.csv", "-o", "samples/logs/overfit.csv"])
        #expect(into.status == 2)
    }
}

/// A 400-layer model with one failing layer in the middle, and a 1,000-layer one.
@Suite struct BigModelReadabilityTests {
    @Test func theFailingLayerComesFirstAndTheRestIsFolded() throws {
        let result = try CLI.run(["compare", "samples/gate/deep400_pretrained.h5", "samples/gate/deep400_ft.h5"])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n")
        let header = try #require(lines.firstIndex { $0.hasPrefix("layer ") })
        #expect(lines[header + 1].contains(" fail "), "\(lines[header + 1])")
        #expect(lines.count < 40)
        #expect(result.stdout.contains("… 389 more layers within thresholds not listed"))
        let all = try CLI.run(["compare", "samples/gate/deep400_pretrained.h5", "samples/gate/deep400_ft.h5", "--all"])
        #expect(all.stdout.split(separator: "\n").count > 400)
        let problems = try CLI.run(["compare", "samples/gate/deep400_pretrained.h5", "samples/gate/deep400_ft.h5", "--only", "problems"])
        let rows = problems.stdout.split(separator: "\n").drop { !$0.hasPrefix("layer ") }.dropFirst().prefix { $0.hasPrefix("dense") }
        #expect(rows.count == 1)
        let top = try CLI.run(["compare", "samples/gate/deep400_pretrained.h5", "samples/gate/deep400_ft.h5", "--top", "3"])
        #expect(top.stdout.split(separator: "\n").drop { !$0.hasPrefix("layer ") }.dropFirst().prefix { $0.hasPrefix("dense") }.count == 3)
    }

    @Test(arguments: [["samples/gate/deep400_pretrained.h5", "samples/gate/deep400_ft.h5"], ["samples/gate/deep1000.h5", "samples/gate/deep1000.h5"]])
    func markdownStaysUnderGitHubsCommentLimit(_ pair: [String]) throws {
        let result = try CLI.run(["compare"] + pair + ["--format", "markdown"])
        #expect(result.stdout.count < 60_000, "\(result.stdout.count) characters")
        #expect(result.stdout.contains("<details><summary>"))
        #expect(result.stdout.contains("</details>"))
    }
}
