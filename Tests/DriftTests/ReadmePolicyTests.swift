import Drift
import Foundation
import SampleFixtures
import Testing

/// The README's policy example is a policy this build reads, with the keys it documents.
@Suite struct ReadmePolicyTests {
    @Test func theReadmePolicyExampleLoads() throws {
        let readme = try String(contentsOfFile: Samples.root.appendingPathComponent("README.md").path, encoding: .utf8)
        let start = try #require(readme.range(of: "```yaml\nversion: 1\n"))
        let end = try #require(readme.range(of: "\n```", range: start.upperBound..<readme.endIndex))
        let policy = try Policy.load(yaml: "version: 1\n" + readme[start.upperBound..<end.lowerBound],
                                     source: "README.md")
        #expect(policy.renames.map(\.side) == [.tuned, .tuned])
        #expect(policy.renames.first?.replacement == "layer_$1/")
        let rule = try #require(policy.rules.first { $0.pattern == "dense_2/kernel" })
        guard case .thresholds(let own) = rule.action else {
            Issue.record("the dense_2/kernel rule has no thresholds")
            return
        }
        #expect(own.fail[.maxAbsChange] == 0.05)
    }
}
