import ArgumentParser
import Checkpoint
import Crypto
import Drift
import Foundation
import Report

enum CompareFormat: String, CaseIterable {
    case table, json, markdown, junit, github, gitlab, html
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

    @OptionGroup var out: OutputOptions

    @OptionGroup var gate: GateOptions

    @Option(name: .long, help: "An approved fine-tune of the same base: fail when this run moved a layer, or the backbone, more than --max-ratio times as far as it did.")
    var reference: String?

    @Option(name: .long, help: "With --reference: the largest allowed ratio of this run's relative change to the approved run's (default 1.5).")
    var maxRatio: Double?

    func validate() throws {
        if let maxRatio {
            guard reference != nil else { throw ValidationError("--max-ratio needs --reference APPROVED") }
            guard maxRatio.isFinite, maxRatio >= 1 else { throw ValidationError("--max-ratio must be a finite number ≥ 1") }
        }
    }

    @Flag(name: .long, help: "Also report the SHA-256 of both inputs (which exact files were gated). Hashing reads every byte of both files a second time, on its own threads, so it is off by default.")
    var hash = false

    @Flag(name: .long, help: "Do not hash the inputs (the default; kept for scripts that pass it).")
    var noHash = false


    func run() throws {
        let artefacts = try out.artefacts(known: CompareFormat.allCases.map(\.rawValue))
        for artefact in artefacts { try Console.checkOutput(artefact.path, inputs: [base, tuned] + (reference.map { [$0] } ?? [])) }
        if let summary = out.stepSummary { try Console.checkOutput(summary, inputs: [base, tuned] + (reference.map { [$0] } ?? [])) }
        let policy = try gate.makePolicy()
        // With --hash, the inputs' SHA-256 (which exact files were gated) is hashed on its own
        // threads while the drift pass runs; it reads every byte again, so it is asked for.
        let hashing = hash && !noHash
        let hashes = FileHashes(paths: hashing ? [base, tuned] : [])
        let unhashed = try judge(policy)
        // What listing and streaming freed goes back to the system before a large report is
        // built (glibc keeps freed memory in per-thread arenas otherwise, and the report,
        // rendered on another thread than the configs were parsed on, would not reuse it).
        releaseFreedMemory()
        let digests = hashes.wait()
        let report = hashing ? unhashed.withHashes(base: digests[0], tuned: digests[1]) : unhashed
        let rows: CompareText.RowSelection = out.all ? .all : out.only == .problems ? .problems : out.top.map { .top($0) } ?? .auto
        // Every artefact is rendered from the same report; the exit code is decided once, below.
        func render(_ format: CompareFormat, toStdout: Bool) -> String {
            switch format {
            case .table: CompareText.table(report, color: out.useColor(toStdout: toStdout), width: out.width(toStdout: toStdout), rows: rows)
            case .json: CompareJSON.render(report)
            case .markdown: CompareText.markdown(report)
            case .junit: CompareText.junit(report)
            case .github: CompareText.github(report)
            case .gitlab: CompareText.gitlabCodeQuality(report)
            case .html: HTMLReport.render(report)
            }
        }
        var stdoutFormat: CompareFormat?
        for (name, path) in artefacts {
            let format = CompareFormat(rawValue: name)!
            if path == nil { stdoutFormat = format }
            try Console.write(render(format, toStdout: path == nil), to: path)
        }
        if out.gitHubActions, !artefacts.contains(where: { $0.format == "github" && $0.path == nil }) {
            // Annotations where the runner reads them: after a human report on stdout, or on stderr
            // when stdout carries a machine-readable one.
            let annotations = CompareText.github(report)
            if stdoutFormat == nil || stdoutFormat == .table || stdoutFormat == .markdown {
                FileHandle.standardOutput.write(Data(annotations.utf8))
            } else {
                Console.stream.write(Data(annotations.utf8))
            }
        }
        if let summary = out.stepSummary { try Console.append(CompareText.markdown(report) + "\n", to: summary) }
        if stdoutFormat != .table {
            Console.stream.write(Data((Sanitize.terminal(CompareText.summaryLine(report)) + "\n").utf8))
        }
        if !report.summary.passed { throw ExitCode(1) }
    }

    /// The drift report, with the checkpoints opened here and closed again before anything is
    /// rendered (the report keeps no way to their values): their files' metadata is not held
    /// while a large report is written.
    private func judge(_ policy: Policy) throws -> DriftReport {
        let (baseCheckpoint, tunedCheckpoint) = try Checkpoint.openPair(base: base, tuned: tuned)
        do {
            let progress = Progress(what: "comparing")
            var report = try DriftEngine.compare(base: baseCheckpoint, tuned: tunedCheckpoint, policy: policy, mode: gate.match.mode,
                                                 progress: progress.update)
            progress.finish()
            if let reference {
                let approved = try DriftEngine.compare(base: baseCheckpoint, tuned: Checkpoint.open(reference), policy: policy,
                                                       mode: gate.match.mode)
                report = report.judged(against: approved, path: reference, maxRatio: maxRatio ?? ReferenceComparison.defaultMaxRatio)
            }
            return report
        } catch let error as PolicyError {
            throw CLIError(message: error.description)
        }
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
