import Foundation
import Yams

extension Policy {
    /// Reads a YAML policy file (see the README's "Policy file"). Unknown keys are errors, so a
    /// typo cannot silently loosen the gate.
    /// Values a policy may expand to, aliases counted each time they are used.
    static let yamlNodeLimit = 100_000

    /// Counts the values of `node`, aliases expanded, stopping as soon as `budget` runs out.
    private static func fits(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return false }
        switch node {
        case .scalar: return true
        case .sequence(let items): return items.allSatisfy { fits($0, budget: &budget) }
        case .mapping(let pairs): return pairs.allSatisfy { fits($0.key, budget: &budget) && fits($0.value, budget: &budget) }
        default: return true
        }
    }

    public static func load(yaml text: String, source: String) throws -> Policy {
        guard text.utf8.count <= 1 << 20 else { throw PolicyError("\(source): larger than 1 MiB: not a policy file") }
        let document: Any?
        do {
            // Composed first (aliases stay shared), then counted with a budget, then converted:
            // nested aliases ("billion laughs") would otherwise expand to 10^9 values.
            let node = try Yams.compose(yaml: text)
            if let node {
                var budget = Self.yamlNodeLimit
                guard Self.fits(node, budget: &budget) else {
                    throw PolicyError("\(source): expands to more than \(Self.yamlNodeLimit) YAML values (nested aliases?): not read")
                }
            }
            document = node?.any
        } catch let error as PolicyError {
            throw error
        } catch {
            throw PolicyError("\(source): not valid YAML: \(error)")
        }
        guard let root = document as? [String: Any] else {
            throw PolicyError("\(source): a policy is a YAML mapping (version, thresholds, rules, …)")
        }
        try checkKeys(root, ["version", "thresholds", "failOnWarn", "failOnNonFinite", "allowNew", "allowRemoved", "rules",
                             "head", "failOnRisk", "minCoverage", "forgetting", "rename"],
                      at: "\(source)")
        if let version = root["version"], number(version) != 1 {
            throw PolicyError("\(source): version: only version 1 is understood")
        }
        var policy = Policy()
        if let thresholds = root["thresholds"] {
            policy.thresholds = try readThresholds(thresholds, over: .defaults, at: "\(source): thresholds")
        }
        policy.failOnWarn = try flag(root["failOnWarn"], at: "\(source): failOnWarn") ?? policy.failOnWarn
        policy.failOnNonFinite = try flag(root["failOnNonFinite"], at: "\(source): failOnNonFinite") ?? policy.failOnNonFinite
        policy.allowNew = try flag(root["allowNew"], at: "\(source): allowNew") ?? policy.allowNew
        policy.allowRemoved = try flag(root["allowRemoved"], at: "\(source): allowRemoved") ?? policy.allowRemoved
        if let head = root["head"] {
            guard let patterns = head as? [String] else { throw PolicyError("\(source): head: expected a list of layer-name globs") }
            policy.headPatterns = patterns
        }
        if let risk = root["failOnRisk"] {
            guard let text = risk as? String, let level = ForgettingAssessment.Risk(rawValue: text), level == .medium || level == .high else {
                throw PolicyError("\(source): failOnRisk: expected medium or high")
            }
            policy.failOnRisk = level
        }
        if let raw = root["minCoverage"] {
            guard let share = number(raw) else { throw PolicyError("\(source): minCoverage: expected a share between 0 and 1") }
            policy.minCoverage = share
        }
        if let raw = root["forgetting"] {
            let at = "\(source): forgetting"
            guard let map = raw as? [String: Any] else { throw PolicyError("\(at): expected {medium: …, high: …}") }
            try checkKeys(map, ["medium", "high"], at: at)
            guard let medium = map["medium"].flatMap(number), let high = map["high"].flatMap(number) else {
                throw PolicyError("\(at): medium and high are both required numbers (the cut points `weightdrift calibrate` prints)")
            }
            policy.forgettingCutPoints = ForgettingAssessment.CutPoints(medium: medium, high: high, source: .policy)
        }
        if let rename = root["rename"] {
            policy.renames = try readRenames(rename, at: "\(source): rename")
        }
        if let rules = root["rules"] {
            guard let list = rules as? [Any] else { throw PolicyError("\(source): rules: expected a list") }
            for (index, item) in list.enumerated() {
                let at = "\(source): rules[\(index)]"
                guard let rule = item as? [String: Any] else { throw PolicyError("\(at): expected a mapping") }
                try checkKeys(rule, ["match", "ignore", "frozen", "warn", "fail", "allowNew", "allowRemoved"], at: at)
                guard let pattern = rule["match"] as? String, !pattern.isEmpty else {
                    throw PolicyError("\(at): match: a glob of layer names is required")
                }
                let ignore = try flag(rule["ignore"], at: "\(at): ignore") ?? false
                let frozen = try flag(rule["frozen"], at: "\(at): frozen") ?? false
                let hasLimits = rule["warn"] != nil || rule["fail"] != nil
                guard [ignore, frozen, hasLimits].filter({ $0 }).count <= 1 else {
                    throw PolicyError("\(at): use one of ignore, frozen, or warn/fail thresholds")
                }
                let action: PolicyRule.Action
                if ignore {
                    action = .ignore
                } else if frozen {
                    action = .frozen
                } else {
                    action = .thresholds(try readThresholds(rule.filter { $0.key == "warn" || $0.key == "fail" },
                                                            over: policy.thresholds, at: at))
                }
                policy.rules.append(PolicyRule(pattern: pattern, action: action,
                                               allowNew: try flag(rule["allowNew"], at: "\(at): allowNew"),
                                               allowRemoved: try flag(rule["allowRemoved"], at: "\(at): allowRemoved")))
            }
        }
        do {
            try policy.validate()
        } catch let error as PolicyError {
            throw PolicyError("\(source): \(error.description)")
        }
        return policy
    }

    /// `rename: {base: [...], tuned: [...]}`, each rule `{match: REGEX, replace: TEMPLATE}`.
    private static func readRenames(_ value: Any, at: String) throws -> [RenameRule] {
        guard let map = value as? [String: Any] else { throw PolicyError("\(at): expected base: and/or tuned: lists of rules") }
        try checkKeys(map, ["base", "tuned"], at: at)
        var rules: [RenameRule] = []
        for side in [Side.base, .tuned] {
            guard let raw = map[side.rawValue] else { continue }
            guard let list = raw as? [Any] else { throw PolicyError("\(at).\(side.rawValue): expected a list of {match, replace} rules") }
            for (index, item) in list.enumerated() {
                let label = "\(at).\(side.rawValue)[\(index)]"
                guard let rule = item as? [String: Any] else { throw PolicyError("\(label): expected {match: REGEX, replace: TEMPLATE}") }
                try checkKeys(rule, ["match", "replace"], at: label)
                guard let pattern = rule["match"] as? String, let replacement = rule["replace"] as? String else {
                    throw PolicyError("\(label): match (a regular expression) and replace (a template) are both required strings")
                }
                rules.append(try RenameRule(side: side, pattern: pattern, replacement: replacement, label: label))
            }
        }
        return rules
    }

    private static func readThresholds(_ value: Any, over base: Thresholds, at: String) throws -> Thresholds {
        guard let map = value as? [String: Any] else { throw PolicyError("\(at): expected warn: and fail: mappings") }
        try checkKeys(map, ["warn", "fail"], at: at)
        var result = base
        var given: Set<String> = []
        if let warn = map["warn"], !(warn is NSNull) {
            result.warn = try readLimits(warn, over: base.warn, at: "\(at).warn")
            given.formUnion((warn as? [String: Any])?.keys.map { "warn.\($0)" } ?? [])
        }
        if let fail = map["fail"], !(fail is NSNull) { result.fail = try readLimits(fail, over: base.fail, at: "\(at).fail") }
        return result.followingFail(warnGiven: given)
    }

    private static func readLimits(_ value: Any, over base: Limits, at: String) throws -> Limits {
        let keys = Metric.gateable.map(\.key)
        guard let map = value as? [String: Any] else { throw PolicyError("\(at): expected a mapping of metric limits (\(keys.joined(separator: ", ")))") }
        try checkKeys(map, Set(keys), at: at)
        var limits = base
        for metric in Metric.gateable {
            guard let raw = map[metric.key] else { continue }
            guard let number = number(raw) else { throw PolicyError("\(at).\(metric.key): expected a number") }
            limits[metric] = number
        }
        return limits
    }

    private static func number(_ value: Any) -> Double? {
        if value is Bool { return nil }
        if let int = value as? Int { return Double(int) }
        return value as? Double
    }

    private static func flag(_ value: Any?, at: String) throws -> Bool? {
        guard let value else { return nil }
        guard let flag = value as? Bool else { throw PolicyError("\(at): expected true or false") }
        return flag
    }

    private static func checkKeys(_ map: [String: Any], _ allowed: Set<String>, at: String) throws {
        let unknown = map.keys.filter { !allowed.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw PolicyError("\(at): unknown key\(unknown.count > 1 ? "s" : "") \(unknown.joined(separator: ", ")) (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}
