import Foundation
import SampleFixtures
import Testing

/// "It never reads outside the files it was given": every path the binary opens, traced with
/// strace, is a named input (or inside a named folder), a named output, or what any process
/// opens to start (shared libraries, the loader's cache, /proc/self, the CPU and cgroup files
/// the runtime reads for the core count, /dev/null). No account files (Foundation's file
/// attributes read /etc/passwd and /etc/group for the owner's name), no home folder, no
/// neighbouring models, no subprocess.
private let stracePath = "/usr/bin/strace"

@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: stracePath), "needs strace"))
struct FileAccessTests {
    static let strace = stracePath

    struct Opened: CustomStringConvertible {
        let call: String, path: String
        /// Opened to write (O_WRONLY, O_RDWR or O_CREAT).
        let writes: Bool
        var description: String { "\(call) \(path)\(writes ? " (write)" : "")" }
    }

    /// The binary's open/openat/creat/execve calls (successful or not) for `arguments`.
    static func trace(_ arguments: [String]) throws -> (status: Int32, calls: [Opened]) {
        let log = try Samples.temporaryDirectory().appendingPathComponent("strace.log").path
        let result = try CLI.run(executable: strace, ["-f", "-qq", "-e", "trace=open,openat,openat2,creat,execve", "-o", log,
                                                      CLI.binary] + arguments)
        let text = try String(contentsOfFile: log, encoding: .utf8)
        var calls: [Opened] = []
        let lines = text.split(separator: "\n")
        // "/proc/<pid>/…" of the process or one of its threads (strace's first column) is its own state.
        let own = Set(lines.compactMap { $0.split(separator: " ").first.map { "\"/proc/\($0)/" } })
        for line in lines {
            if own.contains(where: { line.contains($0) }) || line.contains("\"/proc/thread-self/") { continue }
            guard let call = ["openat2", "openat", "open", "creat", "execve"].first(where: { line.contains(" \($0)(") }),
                  let firstQuote = line.firstIndex(of: "\"") else { continue }
            let rest = line[line.index(after: firstQuote)...]
            guard let end = rest.firstIndex(of: "\"") else { continue }
            let flags = rest[end...]
            let writes = ["O_WRONLY", "O_RDWR", "O_CREAT"].contains { flags.contains($0) }
            calls.append(Opened(call: call, path: String(rest[..<end]), writes: writes))
        }
        return (result.status, calls)
    }

    /// Paths any process of ours opens to start and size its thread pool: the loader's search
    /// for shared libraries (wherever the rpath and the system put them), its cache, /proc/self,
    /// the CPU and cgroup files the runtime reads for the core count, /dev/null.
    static func isStartup(_ path: String) -> Bool {
        let name = URL(fileURLWithPath: path).lastPathComponent
        return (name.hasPrefix("lib") && name.contains(".so"))
            || ["/etc/ld.so.cache", "/etc/ld.so.preload", "/dev/null", "/sys/devices/system/cpu/possible",
                "/sys/devices/system/cpu/online"].contains(path)
            || path.hasPrefix("/sys/fs/cgroup/") || path.hasPrefix("/proc/self/")
    }

    /// Runs `arguments` under strace and expects every opened path to be startup or `allowed`
    /// (paths relative to the repository root; a folder allows what is inside it).
    /// `outputs` are written, and may be written through a temporary file beside them.
    func expectOnlyNamed(_ arguments: [String], allowed: [String], outputs: [String] = [], status: Int32,
                         _ comment: Comment? = nil) throws {
        let (exit, calls) = try Self.trace(arguments)
        #expect(exit == status, comment)
        let root = Samples.root.path
        let allowedPaths = allowed.map { $0.hasPrefix("/") ? $0 : root + "/" + $0 }
        func isAllowed(_ path: String) -> Bool {
            let absolute = path.hasPrefix("/") ? path : root + "/" + path
            return allowedPaths.contains { absolute == $0 || absolute.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
        }
        let executions = calls.filter { $0.call == "execve" }
        #expect(executions.map(\.path) == [CLI.binary], "the binary starts no other program")
        let outputFolders = Set(outputs.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path })
        func isOutput(_ call: Opened) -> Bool {
            call.writes && outputFolders.contains(URL(fileURLWithPath: call.path).deletingLastPathComponent().path)
        }
        let outside = calls.filter { $0.call != "execve" && !Self.isStartup($0.path) && !isAllowed($0.path) && !isOutput($0) }
        #expect(!calls.contains { $0.writes && !isOutput($0) && $0.path != "/dev/null" }, "wrote where no output was named: \(calls.filter(\.writes))")
        #expect(outside.isEmpty, "opened outside the named files: \(outside.prefix(10))")
        // The inputs were opened at all (the trace is not empty by accident).
        #expect(calls.contains { $0.call != "execve" && isAllowed($0.path) }, "no named file was opened: \(calls.prefix(10))")
    }

    @Test func compareOpensOnlyItsTwoFiles() throws {
        try expectOnlyNamed(["compare", "samples/k3/pretrained.h5", "samples/k3/ft_lowlr.h5"],
                            allowed: ["samples/k3/pretrained.h5", "samples/k3/ft_lowlr.h5"], status: 0)
        try expectOnlyNamed(["compare", "samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras", "--hash"],
                            allowed: ["samples/k3/pretrained.keras", "samples/k3/ft_highlr.keras"], status: 1)
        try expectOnlyNamed(["compare", "samples/safetensors/pretrained.safetensors", "samples/safetensors/ft_lowlr.safetensors"],
                            allowed: ["samples/safetensors/pretrained.safetensors", "samples/safetensors/ft_lowlr.safetensors"], status: 0)
    }

    @Test func shardSetOpensOnlyItsShards() throws {
        let shards = try FileManager.default.contentsOfDirectory(atPath: Samples.path("k3/sharded"))
            .filter { $0.hasPrefix("pretrained") }.map { "samples/k3/sharded/\($0)" }
        #expect(shards.count == 4)
        try expectOnlyNamed(["inspect", "--stats", "samples/k3/sharded/pretrained.weights.json"], allowed: shards, status: 0)
    }

    @Test func outputsAndPolicyAreTheOnlyOtherFiles() throws {
        let folder = try Samples.temporaryDirectory()
        let policy = folder.appendingPathComponent("policy.yaml").path
        try "version: 1\nthresholds:\n  fail: {relativeChange: 0.5}\n".write(toFile: policy, atomically: true, encoding: .utf8)
        let html = folder.appendingPathComponent("report.html").path, json = folder.appendingPathComponent("report.json").path
        try expectOnlyNamed(["compare", "samples/k3/pretrained.weights.h5", "samples/k3/ft_lowlr.weights.h5", "--policy", policy,
                             "--output", html, "--report", "json=\(json)"],
                            allowed: ["samples/k3/pretrained.weights.h5", "samples/k3/ft_lowlr.weights.h5", policy],
                            outputs: [html, json], status: 0)
        #expect(FileManager.default.fileExists(atPath: html) && FileManager.default.fileExists(atPath: json))
    }

    @Test func calibrateOpensItsTableAndTheRunsInIt() throws {
        let table = try String(contentsOfFile: Samples.path("transfer/mlp_labelled.csv"), encoding: .utf8)
        let named = table.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("base") }
            .flatMap { $0.split(separator: ",").prefix(2).map(String.init) }
        #expect(named.count >= 6)
        // The table names the runs relative to its own folder.
        let runs = named.map { $0.hasPrefix("/") ? $0 : "samples/transfer/" + $0 }
        try expectOnlyNamed(["calibrate", "samples/transfer/mlp_labelled.csv"],
                            allowed: ["samples/transfer/mlp_labelled.csv"] + runs, status: 0)
    }

    @Test func trendHistoryAndScheduleOpenOnlyTheirInputs() throws {
        let series = try FileManager.default.contentsOfDirectory(atPath: Samples.path("k3/series")).sorted()
            .map { "samples/k3/series/\($0)" }
        #expect(series.count >= 3)
        try expectOnlyNamed(["trend", "samples/k3/pretrained.weights.h5"] + series,
                            allowed: ["samples/k3/pretrained.weights.h5"] + series, status: 1)
        try expectOnlyNamed(["history", "samples/logs/k3_ft_lowlr.csv"], allowed: ["samples/logs/k3_ft_lowlr.csv"], status: 0)
        try expectOnlyNamed(["schedule", "samples/k3/ft_schedule.keras"], allowed: ["samples/k3/ft_schedule.keras"], status: 0)
    }

    @Test func refusedInputIsNotFollowedElsewhere() throws {
        // An unzipped .keras folder whose config.json leads out of the folder: refused, and the
        // file it leads to is never opened.
        let folder = try Samples.temporaryDirectory().appendingPathComponent("model.keras")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Samples.path("k3/pretrained.weights.h5"),
                                         toPath: folder.appendingPathComponent("model.weights.h5").path)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("config.json").path,
                                                   withDestinationPath: "/etc/hostname")
        let (exit, calls) = try Self.trace(["inspect", folder.path])
        #expect(exit == 2)
        #expect(!calls.contains { $0.path == "/etc/hostname" || $0.path.hasSuffix("config.json") }, "\(calls)")
    }
}
