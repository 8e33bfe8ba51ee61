import Drift
import Testing

@Suite struct PolicyTests {
    @Test func yamlPolicyBuildsTheSameValueAsCode() throws {
        let yaml = """
        version: 1
        thresholds:
          warn: {relativeChange: 0.1}
          fail: {relativeChange: 0.5, cosine: 0.9}
        failOnWarn: true
        allowRemoved: false
        rules:
          - match: "conv2d*"
            frozen: true
          - match: "dense_1"
            ignore: true
          - match: "batch_normalization*"
            warn: {relativeChange: 0.4}
            fail: {relativeChange: 0.8}
          - match: "head/*"
            allowNew: true
            warn: {cosine: 0.95}
        """
        let policy = try Policy.load(yaml: yaml, source: "policy.yaml")
        var expected = Policy()
        expected.thresholds = Thresholds(warn: Limits(relativeChange: 0.1, cosine: 0.999),
                                         fail: Limits(relativeChange: 0.5, cosine: 0.9))
        expected.failOnWarn = true
        expected.allowRemoved = false
        expected.rules = [
            PolicyRule(pattern: "conv2d*", action: .frozen),
            PolicyRule(pattern: "dense_1", action: .ignore),
            PolicyRule(pattern: "batch_normalization*", action: .thresholds(Thresholds(
                warn: Limits(relativeChange: 0.4, cosine: 0.999), fail: Limits(relativeChange: 0.8, cosine: 0.9)))),
            PolicyRule(pattern: "head/*", action: .thresholds(Thresholds(
                warn: Limits(relativeChange: 0.1, cosine: 0.95), fail: Limits(relativeChange: 0.5, cosine: 0.9))),
                       allowNew: true),
        ]
        #expect(policy == expected)
        #expect(policy.rule(forLayer: "conv2d_1")?.action == .frozen)
        #expect(policy.rule(forLayer: "dense") == nil)
    }

    @Test(arguments: [
        "rules:\n  - match: x\n    frozn: true",         // a typo must not loosen the gate
        "thresholds:\n  warn: {relativeChange: -1}",
        "thresholds:\n  fail: {cosine: 2}",
        "thresholds:\n  fail: {relativeChange: .nan}",
        "rules:\n  - ignore: true",
        "rules:\n  - match: x\n    ignore: true\n    frozen: true",
        "version: 2",
        "- just a list",
        "thresholds: [",
    ])
    func badPoliciesAreRejected(_ yaml: String) {
        #expect(throws: PolicyError.self) { try Policy.load(yaml: yaml, source: "p.yaml") }
    }

    @Test func globs() {
        #expect(Glob.matches("conv2d*", "conv2d_12"))
        #expect(Glob.matches("*", "inner/dense"))
        #expect(Glob.matches("inner/*", "inner/dense_1"))
        #expect(Glob.matches("dense_[0-2]", "dense_1"))
        #expect(!Glob.matches("dense_[!0-2]", "dense_1"))
        #expect(Glob.matches("d?nse", "dense"))
        #expect(!Glob.matches("conv2d", "conv2d_1"))
        #expect(!Glob.matches("dense*", "my_dense"))
    }
}
