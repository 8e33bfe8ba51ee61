public import Checkpoint
public import Foundation

/// The sample checkpoints written by real Keras (`tools/make_samples.py`) and the ground truth
/// the generator recorded beside them.
public enum Samples {
    /// The repository root, found from this file's path.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let directory = root.appendingPathComponent("samples")

    /// Absolute path of a sample, given its path relative to `samples/`.
    public static func path(_ relative: String) -> String {
        directory.appendingPathComponent(relative).path
    }

    public static let manifest: Manifest = {
        let url = directory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else { fatalError("samples/manifest.json is missing: run tools/make_samples.py") }
        do {
            return try JSONDecoder().decode(Manifest.self, from: data)
        } catch {
            fatalError("samples/manifest.json does not decode: \(error)")
        }
    }()

    /// Every checkpoint the generator wrote, relative to `samples/`, sorted.
    public static var files: [String] { manifest.files.keys.sorted() }

    /// A JSON file of the repository (ground truth a generator wrote), relative to the root:
    /// throws when it is missing or does not parse, so the test that needs it fails.
    public static func json(_ relative: String) throws -> JSONValue {
        let url = root.appendingPathComponent(relative)
        guard let value = JSONValue.parse(try Data(contentsOf: url)) else { throw FixtureError("\(relative) does not parse as JSON") }
        return value
    }

    /// The files on disk under `samples/<folder>` (not recursing) whose names end in one of
    /// `suffixes`, relative to `samples/`, sorted: to check a manifest lists every sample it should.
    public static func filesOnDisk(in folder: String, endingIn suffixes: [String]) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path(folder))
            .filter { name in suffixes.contains { name.hasSuffix($0) } }
            .map { "\(folder)/\($0)" }.sorted()
    }

    /// The pairs of tools/oracle_pairs.txt ("BASE TUNED" per line, relative to `samples/`), the
    /// list tools/reference_drift.py recorded into samples/expected/oracle.json.
    public static func oraclePairs() throws -> [(base: String, tuned: String)] {
        let text = try String(contentsOf: root.appendingPathComponent("tools/oracle_pairs.txt"), encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") || line.allSatisfy(\.isWhitespace) { return nil }
            let words = line.split(separator: " ")
            guard words.count == 2 else { throw FixtureError("tools/oracle_pairs.txt: '\(line)' is not BASE TUNED") }
            return (String(words[0]), String(words[1]))
        }
    }

    /// A fresh temporary folder for a test.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("weightdrift-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A fixture the test needs is missing or malformed.
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public struct Manifest: Decodable, Sendable {
    public let files: [String: FileTruth]
    /// Training runs by name (`k3_ft_lowlr`): what the generator measured after training.
    public let runs: [String: RunTruth]
    public let series: SeriesTruth
}

public struct RunTruth: Decodable, Sendable {
    public let framework: String
    public let optimizer: String?
    /// Accuracy on the original task (digits 0–4) after this run; nil for a new-head run.
    public let originalTaskAccuracy: Double?
    public let weightsHaveNaN: Bool
}

/// The epoch series for `weightdrift trend`, and the first epoch whose largest layer change
/// (measured with numpy) passes the threshold.
public struct SeriesTruth: Decodable, Sendable {
    public let base: String
    public let checkpoints: [String]
    public let threshold: Double
    public let firstEpochOverThreshold: Int

    enum CodingKeys: String, CodingKey { case base, checkpoints, threshold }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        base = try container.decode(String.self, forKey: .base)
        checkpoints = try container.decode([String].self, forKey: .checkpoints)
        threshold = try container.decode(Double.self, forKey: .threshold)
        // The generator names the key after the threshold: "firstEpochOver0.2".
        let any = try decoder.container(keyedBy: AnyKey.self)
        let key = AnyKey(stringValue: "firstEpochOver\(threshold)")
        firstEpochOverThreshold = try any.decode(Int.self, forKey: key)
    }

    struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

public struct FileTruth: Decodable, Sendable {
    public let format: String
    public let framework: String
    public let kerasVersion: String?
    public let backend: String?
    public let run: String?
    public let layers: [LayerTruth]
    public let optimizer: OptimizerTruth?
    public let layerNameCount: Int?

    /// Elements over every weight the generator recorded.
    public var parameterCount: Int { layers.flatMap(\.weights).reduce(0) { $0 + $1.shape.reduce(1, *) } }
}

public struct LayerTruth: Decodable, Sendable {
    public let name: String
    public let className: String?
    public let weights: [WeightTruth]
}

public struct WeightTruth: Decodable, Sendable {
    public let name: String
    public let storedName: String?
    public let path: String
    public let shape: [Int]
    public let dtype: String
    public let trainable: Bool?
    public let values: [Double]?
}

public struct OptimizerTruth: Decodable, Sendable {
    public let className: String?
    public let iterations: Int?
    public let learningRate: JSONValue?
}

/// Runs the built `weightdrift` binary.
public enum CLI {
    public struct Result: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// The binary next to the test bundle (`.build/<config>/weightdrift`), or `WEIGHTDRIFT_BIN`.
    public static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["WEIGHTDRIFT_BIN"] { return path }
        var directory = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("weightdrift").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return Samples.root.appendingPathComponent(".build/debug/weightdrift").path
    }()

    /// Variables that change what the binary writes; a test sets them explicitly or not at all.
    static let scrubbed = ["GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITLAB_CI", "NO_COLOR", "COLUMNS"]

    /// Runs the binary from the repository root (or `directory`), with `environment` added to a
    /// copy of this process's environment less the CI and terminal variables above.
    public static func run(_ arguments: [String], environment: [String: String] = [:], directory: URL? = nil) throws -> Result {
        try run(executable: binary, arguments, environment: environment, directory: directory)
    }

    public static func run(executable: String, _ arguments: [String], environment: [String: String] = [:],
                           directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? Samples.root
        var env = ProcessInfo.processInfo.environment
        for key in scrubbed { env.removeValue(forKey: key) }
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes before waiting, so a large report cannot block the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
