import Foundation
import SampleFixtures
import Testing

/// The bad-input catalogue at the command line: every kind gets a one-line error naming the file
/// (and the object) with exit 2, or a correct report; inputs stay untouched; output is deterministic.
@Suite struct RobustnessTests {
    func copy(_ sample: String, to name: String, in folder: URL? = nil) throws -> String {
        let directory = try folder ?? Samples.temporaryDirectory()
        let target = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Samples.path(sample), toPath: target.path)
        return target.path
    }

    func expectBadInput(_ arguments: [String], naming: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stdout)\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(result.stderr.hasPrefix("weightdrift: error: "), "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("HDF5-DIAG"), sourceLocation: sourceLocation)
        for part in naming { #expect(result.stderr.contains(part), "names \(part): \(result.stderr)", sourceLocation: sourceLocation) }
    }

    @Test func absurdDeclaredDimensionsAreRefusedAtOnce() throws {
        let start = Date()
        try expectBadInput(["inspect", "--stats", "samples/bad/absurd_dims.weights.h5"],
                           naming: ["samples/bad/absurd_dims.weights.h5", "/layers/dense/vars/0"])
        #expect(Date().timeIntervalSince(start) < 5)
    }

    @Test func zeroSizeScalarAndIntegerWeightsAreReported() throws {
        let result = try CLI.run(["compare", "samples/bad/odd_tensors.weights.h5", "samples/bad/odd_tensors.weights.h5", "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let weights = try #require(((object["layers"] as? [[String: Any]])?.first)?["weights"] as? [[String: Any]])
        #expect(weights.map { $0["shape"] as? [Int] ?? [-1] } == [[0, 3], [], [3, 4]])
        #expect(weights.map { $0["tunedDtype"] as? String } == ["float32", "float32", "int64"])
        #expect(weights.allSatisfy { $0["status"] as? String == "frozen" })
    }

    @Test func float16AgainstFloat32ComparesByValue() throws {
        let result = try CLI.run(["compare", "samples/edge/dtypes_k3.weights.h5", "samples/bad/dtypes_as_float32.weights.h5"])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(result.stdout.contains("PASS: 4 frozen"))
    }

    /// The sample has a hard link, a soft link aliasing it and an external link: the external one
    /// is refused (it would open another file), never dropped.
    @Test func externalLinksAreRefused() throws {
        try expectBadInput(["inspect", "--format", "json", "samples/bad/links.weights.h5"],
                           naming: ["samples/bad/links.weights.h5", "/layers/outside", "external link"])
    }

    /// NaN in the base is a finding too: the pretrained file is damaged, so no drift from it can
    /// be trusted, and the gate fails naming the base.
    @Test func nanInTheBaseFailsTheGate() throws {
        let result = try CLI.run(["compare", "samples/k3/ft_nan.keras", "samples/k3/pretrained.keras", "--format", "json"])
        #expect(result.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.allSatisfy { ($0["baseNanCount"] as? Int ?? 0) > 0 })
        #expect(layers.allSatisfy { $0["nanCount"] as? Int == 0 })
        // Where nothing is finite in both files every figure is null, never 0.
        let undefined = layers.filter { $0["finiteCount"] as? Int == 0 }
        #expect(undefined.count >= 3)
        #expect(undefined.allSatisfy { $0["relativeChange"] is NSNull && $0["baseNorm"] is NSNull && $0["maxAbsChange"] is NSNull })
        let reasons = try #require((object["summary"] as? [String: Any])?["failures"] as? [String])
        #expect(reasons.count == layers.count && reasons.allSatisfy { $0.contains("NaN and 0 Inf values in the base checkpoint") })
        #expect(object["baseDiagnosis"] is String)
    }

    /// Two models that share no layer are not a pass with everything new and removed: exit 2.
    @Test func unrelatedModelsAreBadInput() throws {
        let result = try CLI.run(["compare", "samples/edge/nested_k3.keras", "samples/k3/pretrained.keras"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let nested = try #require(Samples.manifest.files["edge/nested_k3.keras"])
        let pretrained = try #require(Samples.manifest.files["k3/pretrained.keras"])
        #expect(result.stderr.hasPrefix("weightdrift: error: samples/edge/nested_k3.keras (\(nested.layers.count) layers, "
                                        + "\(nested.parameterCount) parameters) and samples/k3/pretrained.keras "
                                        + "(\(pretrained.layers.count) layers, \(pretrained.parameterCount) parameters)"), "\(result.stderr)")
        #expect(result.stderr.contains("look like different models"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func sameFileTwiceIsAllFrozen() throws {
        let result = try CLI.run(["compare", "samples/tfk/pretrained.h5", "samples/tfk/pretrained.h5"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("PASS: 5 frozen"))
    }

    @Test func pathsWithSpacesNonASCIIAndSymlinks() throws {
        let folder = try Samples.temporaryDirectory()
        let spaced = try copy("k3/pretrained.keras", to: "my models/modèle ✓ v1.keras", in: folder)
        let link = folder.appendingPathComponent("latest.keras").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: spaced)
        let result = try CLI.run(["compare", spaced, link])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("modèle ✓ v1.keras"))
        let loop = folder.appendingPathComponent("loop.h5").path
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
        try expectBadInput(["inspect", loop], naming: [loop])
    }

    @Test func fifosAndDevicesAreRefusedWithoutWaiting() throws {
        let folder = try Samples.temporaryDirectory()
        let fifo = folder.appendingPathComponent("pipe.h5").path
        #expect(mkfifo(fifo, 0o600) == 0)
        try expectBadInput(["inspect", fifo], naming: [fifo, "not a regular file"])
        // A shard set whose second shard is a FIFO (the fuzzer's hang).
        let shards = folder.appendingPathComponent("shards")
        try FileManager.default.copyItem(atPath: Samples.path("k3/sharded"), toPath: shards.path)
        let second = shards.appendingPathComponent("pretrained_00001.weights.h5").path
        try FileManager.default.removeItem(atPath: second)
        #expect(mkfifo(second, 0o600) == 0)
        try expectBadInput(["inspect", shards.appendingPathComponent("pretrained.weights.json").path],
                           naming: ["pretrained_00001.weights.h5"])
        try expectBadInput(["inspect", "/dev/zero"], naming: ["/dev/zero"])
    }

    @Test func namesWithNewlinesStayOnOneLine() throws {
        let folder = try Samples.temporaryDirectory()
        let index = folder.appendingPathComponent("x.weights.json")
        // The JSON escape \n inside a shard name decodes to a real newline.
        try Data(#"{"weight_map": {"/layers/dense/vars": ["a\nb.weights.h5"]}}"#.utf8).write(to: index)
        try expectBadInput(["inspect", index.path], naming: ["a\\nb.weights.h5"])
    }

    /// Root reads anything, so as root the binary runs as `nobody` through setpriv (util-linux).
    @Test(.enabled(if: getuid() != 0 || FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
                   "running as root needs /usr/bin/setpriv to drop privileges"))
    func unreadableFileNamesTheFile() throws {
        let folder = try Samples.temporaryDirectory()
        let path = try copy("k3/pretrained.keras", to: "secret.keras", in: folder)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
        var arguments = ["inspect", path]
        if getuid() == 0 {
            // A copy of the binary that `nobody` can reach (the build folder may be private), and
            // every folder above the input open to it.
            let binFolder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("wd-nobody-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: binFolder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            defer { try? FileManager.default.removeItem(at: binFolder) }
            let binary = binFolder.appendingPathComponent("weightdrift")
            try FileManager.default.copyItem(atPath: CLI.binary, toPath: binary.path)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary.path)
            var parent = folder.deletingLastPathComponent()
            while parent.path != "/" {
                if let mode = try? FileManager.default.attributesOfItem(atPath: parent.path)[.posixPermissions] as? Int, mode & 0o001 == 0 {
                    try FileManager.default.setAttributes([.posixPermissions: mode | 0o001], ofItemAtPath: parent.path)
                }
                parent = parent.deletingLastPathComponent()
            }
            arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", binary.path] + arguments
            // The copy may still be open for writing in a child another test forked meanwhile
            // (it holds the descriptor until it execs): exec then fails with ETXTBSY. Try again.
            var status: Int32 = 0, stderr = ""
            for _ in 0..<20 {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
                process.arguments = arguments
                let err = Pipe()
                process.standardError = err
                process.standardOutput = Pipe()
                try process.run()
                stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                status = process.terminationStatus
                guard status == 126, stderr.contains("Text file busy") else { break }
                usleep(50_000)
            }
            #expect(status == 2, "\(stderr)")
            #expect(stderr.hasPrefix("weightdrift: error: ") && stderr.contains(path), "\(stderr)")
        } else {
            try expectBadInput(arguments, naming: [path])
        }
    }

    @Test func inputsAreByteIdenticalAfterwardsAndOutputIsDeterministic() throws {
        let files = ["k3/pretrained.keras", "k3/ft_highlr.h5", "bad/deflated.keras", "k3/sharded/pretrained_00001.weights.h5"]
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: Samples.path($0))) }
        let first = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.h5", "--format", "json"])
        let second = try CLI.run(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.h5", "--format", "json"])
        _ = try CLI.run(["compare", "samples/bad/deflated.keras", "samples/k3/sharded/pretrained.weights.json"])
        #expect(first.stdout == second.stdout)
        #expect(!first.stdout.isEmpty)
        let after = try files.map { try Data(contentsOf: URL(fileURLWithPath: Samples.path($0))) }
        #expect(before == after)
    }

    @Test(arguments: ["samples/bad/missing_dataset.h5", "samples/bad/blosc.weights.h5", "samples/bad/absurd_dims.weights.h5"])
    func theGateNeverPassesACheckpointItCouldNotRead(_ tuned: String) throws {
        let result = try CLI.run(["compare", "samples/tfk/pretrained.h5", tuned])
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
    }
}
