import Foundation
import SampleFixtures
import Testing

/// Every input the fuzzer (`tools/fuzz/fuzz.py`) found breaking the contract, kept as a test:
/// each run ends within 10 s with exit 0, 1 or 2, no signal, nothing printed by libhdf5, and
/// within the 2 GiB address-space cap the tool sets itself.
@Suite struct FuzzRegressionTests {
    static var crashers: [String] {
        let folder = Samples.root.appendingPathComponent("tools/fuzz/crashers")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasSuffix(".md") && !$0.hasSuffix("index.json") }.sorted()
            .map { "tools/fuzz/crashers/" + $0 }
    }

    /// The list above is read from the folder: it holds every crasher the fuzzer's index records.
    @Test func everyIndexedCrasherIsListed() throws {
        let data = try Data(contentsOf: Samples.root.appendingPathComponent("tools/fuzz/crashers/index.json"))
        let index = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]], "crashers/index.json is not a list")
        let indexed = try index.map { try #require($0["file"] as? String, "an index entry has no file") }
        #expect(!indexed.isEmpty)
        #expect(Set(indexed).isSubset(of: Self.crashers.map { String($0.dropFirst("tools/fuzz/crashers/".count)) }))
    }

    @Test(arguments: crashers)
    func crasherEndsCleanly(_ path: String) throws {
        let shard = path.hasSuffix(".weights.json") || FileManager.default.fileExists(atPath: Samples.root.appendingPathComponent(path).appendingPathComponent("index.weights.json").path)
        let input = shard && !path.hasSuffix(".json") ? path + "/index.weights.json" : path
        for arguments in [["inspect", input], ["inspect", "--stats", input], ["compare", "samples/k3/pretrained.keras", input]] {
            let start = Date()
            let result = try CLI.run(arguments)
            #expect(Date().timeIntervalSince(start) < 10, "\(arguments)")
            #expect([0, 1, 2].contains(result.status), "\(arguments): exit \(result.status) \(result.stderr)")
            #expect(!result.stderr.contains("HDF5-DIAG"), "\(arguments)")
            // Our line comes last; before it, glibc may have printed its own abort message when
            // libhdf5 corrupted the heap (that line is glibc's, not libhdf5's).
            let lines = result.stderr.split(separator: "\n")
            if result.status == 2 {
                #expect(lines.last?.hasPrefix("weightdrift: error: ") == true, "\(result.stderr)")
                #expect(lines.count == 1 || (lines.count == 2 && !lines[0].hasPrefix("weightdrift")), "\(result.stderr)")
            }
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
        #expect(usage.ru_maxrss < 2 << 20, "a child used \(usage.ru_maxrss) KB")  // within the 2 GiB address-space cap
    }
}
