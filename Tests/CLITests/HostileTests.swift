import Foundation
import SampleFixtures
import Testing

/// The catalogue of hostile inputs (issue 16): files built by `tools/make_hostile.py` in
/// `samples/hostile/`, and what needs a symlink, a FIFO or megabytes built here in a temporary
/// folder. Each must give exit 0/1/2 — for exit 2 exactly one stderr line naming the file, the
/// object and the real cause — within 10 s and 512 MiB (generous bounds on hostile input, a
/// correctness property: the unfixed tool hung, read outside the files or took gigabytes).
@Suite struct HostileTests {
    static let hostile = "samples/hostile/"

    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
        let peakMiB: Double
    }

    /// Runs the CLI with stdout and stderr in files and waits with wait4, for the child's own peak RSS.
    static func run(_ arguments: [String]) throws -> Run {
        let folder = try Samples.temporaryDirectory()
        let outPath = folder.appendingPathComponent("stdout").path, errPath = folder.appendingPathComponent("stderr").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([CLI.binary] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(Samples.root.path)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        var pid: pid_t = 0
        let start = Date()
        let spawned = posix_spawn(&pid, CLI.binary, &actions, nil, argv, environ)
        guard spawned == 0 else { throw CocoaError(.fileNoSuchFile) }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Date().timeIntervalSince(start)
        let exited = status & 0x7F == 0
        return Run(status: exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F),
                   stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                   stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "",
                   seconds: seconds, peakMiB: Double(usage.ru_maxrss) / 1024)
    }

    /// Exit 2, one stderr line naming every part, within the bounds; returns the run.
    @discardableResult
    static func expectRefused(_ arguments: [String], naming parts: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
        let result = try run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stdout.prefix(500))\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, "\(result.stdout.prefix(500))", sourceLocation: sourceLocation)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 1 && result.stderr.hasPrefix("weightdrift: error: "), "\(result.stderr)", sourceLocation: sourceLocation)
        for part in parts { #expect(result.stderr.contains(part), "names \(part): \(result.stderr)", sourceLocation: sourceLocation) }
        expectBounded(result, sourceLocation: sourceLocation)
        return result
    }

    static func expectBounded(_ result: Run, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.seconds < 10, "took \(result.seconds) s", sourceLocation: sourceLocation)
        #expect(result.peakMiB < 512, "peak RSS \(result.peakMiB) MiB", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("HDF5-DIAG") && !result.stderr.contains("Fatal error"), sourceLocation: sourceLocation)
    }

    // MARK: Nothing outside the named files is read

    @Test func externalStorageIsRefusedBeforeAnyRead() throws {
        let result = try Self.expectRefused(["inspect", "--stats", "--format", "json", Self.hostile + "external_storage.h5"],
                                            naming: ["external_storage.h5", "/dense/dense/kernel:0", "external file", "/etc/passwd"])
        #expect(!result.stderr.contains("root:"))
        // A plain inspect lists the weight: refused there too, before any value is read.
        try Self.expectRefused(["inspect", Self.hostile + "external_storage.h5"], naming: ["/dense/dense/kernel:0", "EXTERNAL"])
    }

    @Test func externallyStoredIterationCountIsRefused() throws {
        let result = try Self.expectRefused(["inspect", Self.hostile + "external_iterations.weights.h5"],
                                            naming: ["external_iterations.weights.h5", "/optimizer/vars/0", "EXTERNAL"])
        #expect(!result.stderr.contains("3475222254926655346"))  // "root:x:0" read as an int64
    }

    @Test func virtualDatasetIsRefused() throws {
        try Self.expectRefused(["inspect", "--stats", Self.hostile + "vds.weights.h5"],
                               naming: ["vds.weights.h5", "/layers/dense/vars/0", "virtual dataset"])
    }

    @Test func externalLinkIsRefusedNotReportedRemoved() throws {
        try Self.expectRefused(["compare", Self.hostile + "external_link.h5", Self.hostile + "external_link.h5"],
                               naming: ["external_link.h5", "/dense_1", "external link"])
    }

    @Test func softLinkedWeightIsFollowed() throws {
        let result = try Self.run(["compare", Self.hostile + "soft_link_plain.weights.h5", Self.hostile + "soft_link.weights.h5",
                                   "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.map { $0["status"] as? String } == ["frozen"])  // the same values, not "reshaped"
        #expect((layers.first?["weights"] as? [Any])?.count == 2)
    }

    @Test func danglingSoftLinkIsRefusedNotDropped() throws {
        try Self.expectRefused(["inspect", Self.hostile + "dangling_soft_link.weights.h5"],
                               naming: ["/layers/dense/vars/1", "soft link"])
    }

    /// Members of a checkpoint folder or shard set that lead out of it, FIFOs and devices are
    /// refused; the folder named on the command line may itself be a symlink.
    @Test func folderMembersLeadingOutsideAreRefused() throws {
        let folder = try Samples.temporaryDirectory()
        let model = folder.appendingPathComponent("model.keras")
        try FileManager.default.copyItem(atPath: Samples.path("hostile/unzipped.keras"), toPath: model.path)
        let fine = try Self.run(["inspect", model.path])
        #expect(fine.status == 0, "\(fine.stderr)")
        let link = folder.appendingPathComponent("link.keras")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: model.path)
        #expect(try Self.run(["inspect", link.path]).status == 0)

        // config.json leading to a system file: never read (the old reader showed its bytes).
        let config = model.appendingPathComponent("config.json")
        let saved = try Data(contentsOf: config)
        try FileManager.default.removeItem(at: config)
        try FileManager.default.createSymbolicLink(atPath: config.path, withDestinationPath: "/etc/passwd")
        try Self.expectRefused(["inspect", model.path], naming: [model.path, "config.json", "symbolic link", "out of the folder"])
        try FileManager.default.removeItem(at: config)
        try saved.write(to: config)

        // model.weights.h5 leading to another model outside; a link inside the folder is fine.
        let weights = model.appendingPathComponent("model.weights.h5")
        let outside = folder.appendingPathComponent("other.weights.h5")
        try FileManager.default.moveItem(at: weights, to: outside)
        try FileManager.default.createSymbolicLink(atPath: weights.path, withDestinationPath: outside.path)
        try Self.expectRefused(["inspect", model.path], naming: ["model.weights.h5", "symbolic link"])
        let inside = model.appendingPathComponent("weights.real.h5")
        try FileManager.default.moveItem(at: outside, to: inside)
        try FileManager.default.removeItem(at: weights)
        try FileManager.default.createSymbolicLink(atPath: weights.path, withDestinationPath: "weights.real.h5")
        #expect(try Self.run(["inspect", model.path]).status == 0)

        // A FIFO and a device as members.
        try FileManager.default.removeItem(at: config)
        #expect(mkfifo(config.path, 0o600) == 0)
        try Self.expectRefused(["inspect", model.path], naming: ["config.json", "not a regular file"])
        try FileManager.default.removeItem(at: config)
        try FileManager.default.createSymbolicLink(atPath: config.path, withDestinationPath: "/dev/zero")
        try Self.expectRefused(["inspect", model.path], naming: ["config.json"])
    }

    /// A file named on the command line through a symbolic link is read (the user named it):
    /// the HDF5 reader bounds reads by the size of the file, not of the link.
    @Test func hdf5FileNamedThroughASymlinkIsRead() throws {
        let link = try Samples.temporaryDirectory().appendingPathComponent("latest.h5").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: Samples.path("k3/pretrained.h5"))
        let result = try Self.run(["compare", link, "samples/k3/pretrained.h5"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("PASS: 5 frozen"))
    }

    @Test func shardLeadingOutsideIsRefused() throws {
        let folder = try Samples.temporaryDirectory()
        let shards = folder.appendingPathComponent("shards")
        try FileManager.default.copyItem(atPath: Samples.path("k3/sharded"), toPath: shards.path)
        let index = shards.appendingPathComponent("pretrained.weights.json").path
        #expect(try Self.run(["inspect", index]).status == 0)
        let shard = shards.appendingPathComponent("pretrained_00001.weights.h5")
        let outside = folder.appendingPathComponent("elsewhere.weights.h5")
        try FileManager.default.moveItem(at: shard, to: outside)
        try FileManager.default.createSymbolicLink(atPath: shard.path, withDestinationPath: outside.path)
        try Self.expectRefused(["inspect", index], naming: [index, "pretrained_00001.weights.h5", "symbolic link"])
        try FileManager.default.removeItem(at: shard)
        #expect(mkfifo(shard.path, 0o600) == 0)
        try Self.expectRefused(["inspect", index], naming: ["pretrained_00001.weights.h5", "not a regular file"])
    }

    // MARK: What Keras loads is what is checked

    @Test(arguments: [
        ("zip_duplicate.keras", "two members have this name"),
        ("zip_name_mismatch.keras", "the local header names it 'model.weights.h6'"),
        ("zip_size_mismatch.keras", "the local header declares"),
        ("zip_overlap.keras", "overlap"),
        ("polyglot_h5_zip.keras", "both an HDF5 file and a zip archive"),
    ])
    func archivesReadDifferentlyByZipfileAreRefused(_ file: String, _ reason: String) throws {
        try Self.expectRefused(["compare", "samples/k3/pretrained.keras", Self.hostile + file], naming: [file, reason])
    }

    @Test func duplicateLayerNamesAreRefused() throws {
        try Self.expectRefused(["inspect", Self.hostile + "duplicate_layer_names.h5"],
                               naming: ["duplicate_layer_names.h5", "layer_names", "'dense' twice"])
    }

    // MARK: Bounded walks, time and memory

    @Test(arguments: ["hard_link_dag.weights.h5", "hard_link_cycle.weights.h5"])
    func aliasedGroupsAreVisitedOnce(_ file: String) throws {
        try Self.expectRefused(["inspect", Self.hostile + file], naming: [file, "two paths"])
    }

    @Test func hugeChunkIsRefusedWithItsSize() throws {
        try Self.expectRefused(["inspect", "--stats", Self.hostile + "big_chunk.weights.h5"],
                               naming: ["/layers/dense/vars/0", "303038464 bytes", "256 MiB"])
    }

    @Test func fillValueOnlyWeightsAreRefused() throws {
        try Self.expectRefused(["inspect", "--stats", Self.hostile + "fill_only.weights.h5"],
                               naming: ["/layers/big/vars/0", "not stored (fill value only)"])
    }

    // MARK: The real cause, not "Read failed"

    @Test func corruptChunksNameTheirCause() throws {
        try Self.expectRefused(["inspect", "--stats", Self.hostile + "fletcher32_corrupt.weights.h5"],
                               naming: ["/layers/dense/vars/0", "fletcher32 checksum mismatch"])
        try Self.expectRefused(["inspect", "--stats", Self.hostile + "deflate_corrupt.weights.h5"],
                               naming: ["/layers/dense/vars/0", "corrupt deflate data"])
        // h5py's LZF: a chunk size record one byte short, or 4 GiB, is refused, never trusted.
        try Self.expectRefused(["inspect", "--stats", Self.hostile + "lzf_short.weights.h5"],
                               naming: ["/layers/dense/vars/0", "corrupt lzf data", "does not decode to its recorded size"])
        try Self.expectRefused(["compare", Self.hostile + "lzf_huge.weights.h5", Self.hostile + "lzf_huge.weights.h5"],
                               naming: ["/layers/dense/vars/0", "corrupt lzf data", "above 256 MiB"])
    }

    /// LZF has no checksum: a flipped byte inside a compressed chunk that still decodes to the
    /// chunk's size gives other values (as h5py reads them), within the usual bounds.
    @Test func flippedLZFByteStaysBounded() throws {
        let result = try Self.run(["inspect", "--stats", Self.hostile + "lzf_corrupt.weights.h5"])
        #expect([0, 2].contains(result.status), "\(result.stderr)")
        #expect(result.seconds < 10 && result.peakMiB < 512)
        #expect(result.stderr.split(separator: "\n").count <= 1)
    }

    // MARK: Reports that cannot be forged

    @Test func namesCannotForgeTheTerminalOrGitHub() throws {
        let file = Self.hostile + "forged_names.h5"
        for arguments in [["inspect", file], ["compare", file, file], ["inspect", "--stats", file]] {
            let result = try Self.run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            #expect(!result.stdout.contains("\u{1B}"), "\(arguments): an escape sequence reached the terminal")
            for line in result.stdout.split(separator: "\n") {
                #expect(!line.hasPrefix("::"), "\(arguments): a line forges a workflow command: \(line)")
            }
            #expect(result.stdout.contains("dense\\x1b[2J"), "the name is shown, escaped")
        }
        let github = try Self.run(["compare", file, file, "--format", "github"])
        let lines = github.stdout.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("::notice") || $0.hasPrefix("::warning") || $0.hasPrefix("::error") })
        #expect(!lines.contains { $0.hasPrefix("::error::forged") || $0.hasPrefix("::warning file=x") })
    }

    @Test func namesAndVersionsCannotAddMarkdownStructure() throws {
        let file = Self.hostile + "forged_names.h5"
        let result = try Self.run(["compare", file, file, "--format", "markdown"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.filter { $0.hasPrefix("#") }.count == 1, "one heading, ours")
        #expect(!result.stdout.contains("!["), "no image from the keras_version string")
        #expect(!result.stdout.contains("<img"), "no HTML from a layer name")
        #expect(!result.stdout.contains("**bold**"))
        #expect(lines.filter { $0.hasPrefix("| ") }.allSatisfy { line in
            // Every table row has the columns of its table: a name cannot add a cell.
            let cells = line.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
            return cells == 6 || cells == 10
        }, "\(result.stdout)")
    }

    // MARK: No trap on user input

    @Test func csvLogsThatUsedToTrap() throws {
        let folder = try Samples.temporaryDirectory()
        func log(_ name: String, _ text: String) throws -> String {
            let path = folder.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        try Self.expectRefused(["history", try log("repeated.csv", "epoch,loss,loss\n0,1,1\n")],
                               naming: ["repeated.csv", "line 1", "'loss' appears twice"])
        try Self.expectRefused(["history", try log("epoch.csv", "epoch,loss\n1e19,1\n")], naming: ["epoch.csv", "line 2", "epoch"])
        let long = "epoch,loss\n0," + String(repeating: "1", count: 2 << 20) + "\n"
        try Self.expectRefused(["history", try log("long.csv", long)], naming: ["long.csv", "line 2", "longer than"])
        let wide = (["epoch", "loss"] + (0..<1000).map { "c\($0)" }).joined(separator: ",") + "\n"
        try Self.expectRefused(["history", try log("wide.csv", wide)], naming: ["wide.csv", "line 1", "columns"])
        // Streamed: a log is read line by line, so a long one stays in bounded memory.
        var rows = "epoch,loss,val_loss\n"
        for epoch in 0..<20_000 { rows += "\(epoch),0.5,0.6\n" }
        let many = try Self.run(["history", try log("rows.csv", rows)])
        #expect(many.status == 0, "\(many.stderr)")
        Self.expectBounded(many)
    }

    /// A fatal signal while no libhdf5 call runs (here: sent while a CSV log is parsed) is not
    /// blamed on libhdf5 or on a file: one line, exit 2.
    @Test func crashGuardBlamesLibhdf5OnlyForItsOwnCrashes() throws {
        let path = try Samples.temporaryDirectory().appendingPathComponent("long.csv").path
        var text = "epoch,loss,val_loss\n"
        text.reserveCapacity(24 << 20)
        for epoch in 0..<99_000 { text += "\(epoch),0.5,0.6\n" }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["history", path]
        // The Swift runtime's own crash handler (installed before main) would take the signal first.
        process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        // Signal as soon as the guard is installed (SigCgt has SIGSEGV and its watchdog thread
        // runs), long before the log is parsed.
        let status = "/proc/\(process.processIdentifier)/status"
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let lines = ((try? String(contentsOfFile: status, encoding: .utf8)) ?? "").split(separator: "\n")
            func field(_ name: String, radix: Int) -> UInt64 {
                lines.first { $0.hasPrefix(name) }
                    .flatMap { UInt64($0.dropFirst(name.count).trimmingCharacters(in: .whitespaces), radix: radix) } ?? 0
            }
            if field("SigCgt:", radix: 16) & (1 << (SIGSEGV - 1)) != 0 && field("Threads:", radix: 10) >= 2 { break }
        }
        kill(process.processIdentifier, SIGSEGV)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 2, "\(stderr)")
        #expect(stderr == "weightdrift: error: internal error: weightdrift crashed outside libhdf5 (signal 11)\n", "\(stderr)")
    }

    @Test func schedulesWithHugeStepsDoNotTrap() throws {
        for config in [
            #"{"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 1e19, "decay_rate": 0.5}}"#,
            #"{"class_name": "PolynomialDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 9223372036854775807}}"#,
            #"{"class_name": "CosineDecay", "config": {"initial_learning_rate": 0.1, "decay_steps": 1e300, "warmup_steps": 1e19}}"#,
        ] {
            let result = try Self.run(["schedule", "--config", config])
            #expect(result.status == 0, "\(config): \(result.stderr)")
            #expect(result.stderr.isEmpty)
            Self.expectBounded(result)
        }
    }

    @Test func policyWithNestedAliasesIsRefusedAtOnce() throws {
        var lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        for level in 1...8 { lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]") }
        lines.append("rules: [*a8]")
        let path = try Samples.temporaryDirectory().appendingPathComponent("laughs.yaml").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try Self.expectRefused(["compare", "samples/k3/pretrained.keras", "samples/k3/pretrained.keras", "--policy", path],
                               naming: ["laughs.yaml", "aliases"])
    }
}
