import ArgumentParser
import Checkpoint
import Crypto
import Drift
import Foundation
import Report

enum CompareFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, markdown, junit, github, html
}

enum RiskOption: String, ExpressibleByArgument, CaseIterable {
    case medium, high
    var risk: ForgettingAssessment.Risk { ForgettingAssessment.Risk(rawValue: rawValue)! }
}

enum MatchOption: String, ExpressibleByArgument, CaseIterable {
    case auto, name, order
    var mode: MatchMode { MatchMode(rawValue: rawValue)! }
}

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare a pretrained and a fine-tuned checkpoint layer by layer, and gate on the drift.",
        discussion: """
        Exit codes: 0 the gate passed, 1 it failed (a layer over the fail thresholds, NaN or Inf \
        in the tuned weights, a frozen layer that changed, …), 2 bad input or usage.
        Flags override the policy file, which overrides the defaults.
        """
    )

    @Argument(help: "The pretrained (base) checkpoint.")
    var base: String

    @Argument(help: "The fine-tuned checkpoint. May be in another layout than the base.")
    var tuned: String

    @Option(name: .long, help: "Output format: table, json, markdown, junit, github or html.")
    var format: CompareFormat = .table

    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.")
    var output: String?

    @OptionGroup var gate: GateOptions

    @Flag(name: .long, help: "Do not hash the inputs (the report's sha256 fields are then null). Hashing reads every byte of both files again, on its own threads; skip it when time matters more than identifying the files.")
    var noHash = false

    @Flag(name: .long, help: "Colour the table even when standard output is not a terminal.")
    var color = false

    func run() throws {
        let policy = try gate.makePolicy()
        let baseCheckpoint = try Checkpoint.open(base)
        let tunedCheckpoint = try Checkpoint.open(tuned)
        // The inputs' SHA-256 (which exact files were gated) is hashed on its own threads while
        // the drift pass runs: it reads every byte again and would otherwise double the time.
        let hashes = FileHashes(paths: noHash ? [] : [base, tuned])
        let unhashed: DriftReport
        do {
            let progress = Progress(what: "comparing")
            unhashed = try DriftEngine.compare(base: baseCheckpoint, tuned: tunedCheckpoint, policy: policy, mode: gate.match.mode,
                                               progress: progress.update)
            progress.finish()
        } catch let error as PolicyError {
            throw CLIError(message: error.description)
        }
        let digests = hashes.wait()
        let report = noHash ? unhashed : unhashed.withHashes(base: digests[0], tuned: digests[1])
        let text = switch format {
        case .table: CompareText.table(report, color: color || (output == nil && isatty(1) == 1))
        case .json: CompareJSON.render(report)
        case .markdown: CompareText.markdown(report)
        case .junit: CompareText.junit(report)
        case .github: CompareText.github(report)
        case .html: HTMLReport.render(report)
        }
        try Console.write(text, to: output)
        if output != nil || format != .table {
            Console.stream.write(Data((Sanitize.terminal(CompareText.summaryLine(report)) + "\n").utf8))
        }
        if !report.summary.passed { throw ExitCode(1) }
    }
}

/// SHA-256 of several files, each computed on a background thread from creation on.
final class FileHashes: @unchecked Sendable {
    private let group = DispatchGroup()
    private let lock = NSLock()
    private var digests: [String?]

    init(paths: [String]) {
        digests = Array(repeating: nil, count: paths.count)
        for (index, path) in paths.enumerated() {
            DispatchQueue.global().async(group: group) {
                let digest = sha256(path)
                self.lock.lock()
                self.digests[index] = digest
                self.lock.unlock()
            }
        }
    }

    func wait() -> [String?] {
        group.wait()
        lock.lock()
        defer { lock.unlock() }
        return digests
    }
}

/// SHA-256 of a file, streamed; nil for a folder or an unreadable file.
func sha256(_ path: String) -> String? {
    guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
    defer { try? handle.close() }
    var hasher = SHA256()
    while true {
        let chunk: Data?
        do {
            chunk = try handle.read(upToCount: 1 << 20)
        } catch {
            return nil
        }
        guard let chunk, !chunk.isEmpty else { break }  // nil or empty: end of file
        hasher.update(data: chunk)
    }
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
}
