import ArgumentParser
import Foundation

/// `--report FORMAT[=PATH]`: one more artefact from the same run (stdout when PATH is omitted or `-`).
struct ReportSpec: ExpressibleByArgument {
    let format: String
    let path: String?

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, !name.isEmpty else { return nil }
        // GitLab calls its format Code Quality.
        format = ["codequality", "code-quality"].contains(name.lowercased()) ? "gitlab" : name.lowercased()
        path = parts.count > 1 && parts[1] != "-" && !parts[1].isEmpty ? parts[1] : nil
    }
}

enum RowsOption: String, ExpressibleByArgument, CaseIterable { case problems }

/// Where a run's reports go: one format on stdout (or `-o`), any number of `--report` artefacts,
/// and what a CI environment expects without flags. Shared by `compare` and `trend`.
struct OutputOptions: ParsableArguments {
    @Option(name: .customLong("format"),
            help: "Format on standard output (or --output): table, json, markdown, junit, github, gitlab or html. Default: from the --output extension (.json, .html, .md, .xml), else table.")
    var formatOption: String?

    @Option(name: .shortAndLong, help: "Write the --format report to this file instead of standard output.")
    var output: String?

    @Option(name: .customLong("report"), parsing: .singleValue,
            help: ArgumentHelp("Also write FORMAT to PATH from the same run (repeatable), e.g. --report junit=drift.xml --report markdown=summary.md. Without =PATH it replaces the standard-output format.",
                               valueName: "format[=path]"))
    var reports: [ReportSpec] = []

    @Flag(name: .customLong("no-ci"), help: "Under GitHub Actions, do not add annotations to standard output nor append the Markdown summary to $GITHUB_STEP_SUMMARY.")
    var noCI = false

    @Flag(name: .long, help: "Colour the table even when standard output is not a terminal (NO_COLOR turns colour off otherwise).")
    var color = false

    @Option(name: .long, help: "List only the N layers that matter most (worst status, then largest change) in the table.")
    var top: Int?

    @Option(name: .long, help: "List only these layers in the table: problems (failing, warning or NaN/Inf).")
    var only: RowsOption?

    @Flag(name: .long, help: "List every layer in the table (by default a model of more than 50 layers lists its problems and the 10 layers that moved most).")
    var all = false

    func validate() throws {
        if let top, top < 1 { throw ValidationError("--top must be at least 1") }
        if [top != nil, only != nil, all].filter({ $0 }).count > 1 { throw ValidationError("use one of --top, --only and --all") }
        if reports.filter({ $0.path == nil }).count > 1 { throw ValidationError("at most one --report may go to standard output") }
        let paths = ([output] + reports.map(\.path)).compactMap { $0 }
        if Set(paths).count != paths.count { throw ValidationError("two reports name the same output file") }
    }

    /// Every artefact to write: (format, path or nil for stdout); the first is the stdout/`-o` one.
    func artefacts(known: [String]) throws -> [(format: String, path: String?)] {
        var primary = formatOption ?? Console.formatName(forOutput: output) ?? "table"
        if let toStdout = reports.first(where: { $0.path == nil }) {
            if output == nil { primary = toStdout.format }
        }
        var list: [(String, String?)] = [(primary, output)]
        for spec in reports where spec.path != nil { list.append((spec.format, spec.path)) }
        if let toStdout = reports.first(where: { $0.path == nil }), output != nil { list.append((toStdout.format, nil)) }
        for (format, _) in list where !known.contains(format) {
            throw CLIError(message: "unknown report format '\(format)' (known: \(known.joined(separator: ", ")))")
        }
        return list
    }

    var gitHubActions: Bool { !noCI && ProcessInfo.processInfo.environment["GITHUB_ACTIONS"] == "true" }

    /// `$GITHUB_STEP_SUMMARY` under GitHub Actions (not with --no-ci).
    var stepSummary: String? {
        guard gitHubActions, let path = ProcessInfo.processInfo.environment["GITHUB_STEP_SUMMARY"], !path.isEmpty else { return nil }
        return path
    }

    /// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org), unless --color.
    func useColor(toStdout: Bool) -> Bool {
        if color { return true }
        let noColor = ProcessInfo.processInfo.environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        return toStdout && !noColor && isatty(1) == 1
    }

    /// The terminal's width when stdout is one (else COLUMNS, else no limit).
    func width(toStdout: Bool) -> Int? {
        guard toStdout else { return nil }
        if isatty(1) == 1 {
            var size = winsize()
            if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        }
        return ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) }.flatMap { $0 > 20 ? $0 : nil }
    }
}

extension Console {
    /// Appends to a file (the GitHub step summary), creating it when missing.
    static func append(_ text: String, to path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil
        }() else {
            throw CLIError(message: "\(path): cannot append the step summary")
        }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        handle.write(Data(text.utf8))
    }
}
